"""Neural features of a network's validation-set activity, the paper's type predictors.

The paper predicts a network's solution type from a handful of geometric measurements of its
state trajectories in chosen task epochs: how curved the timing (or delay) trajectory is in its
top-2 PCA plane, how separable two epochs are (linear-SVM margin), speed ratios, the angle and
correlation between epoch directions, the variance on the first PC, an aspect ratio, how the
trajectory length grows with the interval, and the speed at the end of a trial.

The columns are in the order of the paper's matrices (`reference/paper_features`): its feature
names sorted alphabetically, except `speed_end`, which is the last column. (The reference README
lists `speed_end` in its alphabetical place, but the data say otherwise: computed here for the
12 reference `reproduction` networks, the features equal the paper's rows for those networks
column by column only with `speed_end` last; for `delayed`, `speed_end` equals the last column.)

The epochs are the task's to declare (`features` in its declaration: which of the two feature
sets, and its windows of the validation trials, atlas.tasks.windows); the paper's tasks declare
the epochs the paper chose for its defaults (see atlas/tasks/declarations/*.yaml).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy.optimize import linprog
from scipy.stats import pearsonr
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from atlas.analysis.trial_runs import validation_states
from atlas.networks import RNNPopulation
from atlas.tasks import DeclaredTask, Task
from atlas.tasks.windows import Window, feature_windows

EPOCH_FEATURES = (
    "angle",
    "aspect_ratio",
    "corr",
    "curvature_max",
    "curvature_min",
    "epoch1_speed_ratio",
    "first_pc",
    "speed_ratio",
    "speed_vs_length",
    "svm",
    "speed_end",
)
DELAYED_FEATURES = (
    "aspect_ratio",
    "curvature_max",
    "curvature_max_m",
    "curvature_max_p",
    "curvature_min",
    "curvature_min_m",
    "curvature_min_p",
    "epoch_speed_ratio",
    "first_pc",
    "speed_ratio",
    "speed_vs_length",
    "svm",
    "speed_end",
)
SVM_C = 100.0
SVM_MAX_ITER = 1_000_000


# ---------------------------------------------------------------- measurements, batched over K


def step_speeds(points: np.ndarray) -> np.ndarray:
    """RMS step per unit along (..., W, S), the last step repeated so there are W values."""
    steps = np.sqrt((np.diff(points, axis=-2) ** 2).mean(axis=-1))
    return np.concatenate([steps, steps[..., -1:]], axis=-1)


def mean_speed(points: np.ndarray) -> np.ndarray:
    return step_speeds(points).mean(axis=-1)


def path_length(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(points, axis=-2), axis=-1).sum(axis=-1)


def top_two_plane(points: np.ndarray) -> np.ndarray:
    """Points (..., W, S) projected on their own top-2 principal components, (..., W, 2)."""
    centred = points - points.mean(axis=-2, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[..., :2] * s[..., None, :2]


def log_curvature_range(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of log10 curvature of the trajectory in its top-2 PCA plane, per network.

    Curvature |x'y'' - y'x''| / (x'^2 + y'^2)^1.5 with central differences; points where it is
    undefined (no movement) or zero are left out.
    """
    plane = top_two_plane(points)
    dx, dy = np.gradient(plane[..., 0], axis=-1), np.gradient(plane[..., 1], axis=-1)
    ddx, ddy = np.gradient(dx, axis=-1), np.gradient(dy, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_curvature = np.log10(np.abs(ddx * dy - dx * ddy) / (dx * dx + dy * dy) ** 1.5)
    log_curvature[~np.isfinite(log_curvature)] = np.nan
    return np.nanmin(log_curvature, axis=-1), np.nanmax(log_curvature, axis=-1)


def first_pc_share(states: np.ndarray) -> np.ndarray:
    """Share of variance on the first principal component of all states (K, N, S), per network."""
    centred = states - states.mean(axis=1, keepdims=True)
    covariance = np.einsum("kns,knt->kst", centred, centred)
    eigenvalues = np.linalg.eigvalsh(covariance)
    return eigenvalues[:, -1] / eigenvalues.sum(axis=1)


def angle_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cosine = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([pearsonr(x, y)[0] for x, y in zip(a, b, strict=True)])


def length_growth(trajectories: list[np.ndarray]) -> np.ndarray:
    """Slope of (length / shortest length - 1) against the trajectories' rank scaled to [0, 1]:
    how much longer the path gets for longer intervals, per network."""
    lengths = np.stack([path_length(t) for t in trajectories], axis=-1)
    relative = lengths / lengths.min(axis=-1, keepdims=True) - 1
    x = np.linspace(0, 1, lengths.shape[-1])
    return np.polyfit(x, relative.T, 1)[0]


def aspect_ratio(trajectories: list[np.ndarray]) -> np.ndarray:
    """Path length through the trajectories' end points over the length of the last one."""
    ends = np.stack([t[..., -1, :] for t in trajectories], axis=-2)
    return path_length(ends) / path_length(trajectories[-1])


def linearly_separable(points: np.ndarray, labels: np.ndarray) -> bool:
    """Whether a hyperplane separates the two classes (labels +1/-1): is y (w.x + b) >= 1
    feasible? A small linear program, far cheaper than letting an SVM run out of iterations."""
    n, dim = points.shape
    result = linprog(
        np.zeros(dim + 1),
        A_ub=-labels[:, None] * np.c_[points, np.ones(n)],
        b_ub=-np.ones(n),
        bounds=[(None, None)] * (dim + 1),
        method="highs",
    )
    return result.status == 0


def svm_margin(a: np.ndarray, b: np.ndarray) -> float:
    """Width 2/||w|| of a hard linear SVM between two point clouds (standardised); 0 if a
    linear boundary does not separate them perfectly."""
    points = StandardScaler().fit_transform(np.concatenate([a, b]))
    labels = np.r_[np.ones(len(a)), -np.ones(len(b))]
    if not linearly_separable(points, labels):
        return 0.0  # what the SVM would conclude after running out of iterations
    with warnings.catch_warnings():
        # A separation the soft margin (C = 100) cannot reach stops the solver at its cap.
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm = SVC(kernel="linear", C=SVM_C, max_iter=SVM_MAX_ITER).fit(points, labels)
    if svm.score(points, labels) < 1.0:
        return 0.0
    return float(2.0 / np.linalg.norm(svm.coef_))


def svm_margins(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """svm_margin for each network of (K, Na, S) and (K, Nb, S): sklearn has no batch."""
    return np.array([svm_margin(x, y) for x, y in zip(a, b, strict=True)])


# ---------------------------------------------------------------- feature sets


def common_features(states: np.ndarray, timing: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Features both sets share: first-PC share, aspect ratio, length growth, end speed."""
    k = states.shape[0]
    return {
        "first_pc": first_pc_share(states.reshape(k, -1, states.shape[-1])),
        "aspect_ratio": aspect_ratio(timing),
        "speed_vs_length": length_growth(timing),
        "speed_end": mean_speed(states[:, 0, -3:]),
    }


def epoch_features(windows: dict[str, list[Window]], states: np.ndarray) -> dict:
    """The paper's features for a wait (`first`) and timing trajectories (`second`)."""
    (first_window,) = windows["first"]
    first = first_window.of(states)
    second = [w.of(states) for w in windows["second"]]
    first_direction = first[:, -1] - first[:, 0]
    second_direction = second[-1][:, -1] - second[-1][:, 0]
    curvature_min, curvature_max = log_curvature_range(first)
    return {
        "angle": angle_degrees(first_direction, second_direction),
        "corr": correlation(first_direction, second_direction),
        "curvature_max": curvature_max,
        "curvature_min": curvature_min,
        "epoch1_speed_ratio": mean_speed(first[:, -5:]) / mean_speed(first[:, :5]),
        "speed_ratio": mean_speed(first) / mean_speed(second[-1]),
        "svm": svm_margins(first, np.concatenate(second, axis=1)),
        **common_features(states, second),
    }


def delayed_features(windows: dict[str, list[Window]], states: np.ndarray) -> dict:
    """The paper's features for delays after a stimulus (`delay`) and two `answer`s."""
    delays = [w.of(states) for w in windows["delay"]]
    answers = [w.of(states) for w in windows["answer"]]
    curvature_min, curvature_max = log_curvature_range(delays[-2])
    minus_min, minus_max = log_curvature_range(answers[0])
    plus_min, plus_max = log_curvature_range(answers[-1])
    return {
        "curvature_max": curvature_max,
        "curvature_max_m": minus_max,
        "curvature_max_p": plus_max,
        "curvature_min": curvature_min,
        "curvature_min_m": minus_min,
        "curvature_min_p": plus_min,
        "epoch_speed_ratio": mean_speed(delays[-1][:, -5:]) / mean_speed(delays[-1][:, :5]),
        "speed_ratio": (mean_speed(answers[0]) + mean_speed(answers[1]))
        / 2
        / mean_speed(delays[-1]),
        "svm": svm_margins(np.concatenate(answers, axis=1), np.concatenate(delays, axis=1)),
        **common_features(states, delays),
    }


FEATURE_SETS: dict[str, tuple[tuple[str, ...], Callable[..., dict]]] = {
    "two_epochs": (EPOCH_FEATURES, epoch_features),
    "delay_and_answers": (DELAYED_FEATURES, delayed_features),
}
"""The feature set a declaration's `features.kind` names: its columns and how to measure them."""


def has_features(task: Task) -> bool:
    """Whether the task declares the windows its neural features are measured on."""
    return isinstance(task, DeclaredTask) and task.declaration.features is not None


def feature_names(task: Task) -> tuple[str, ...]:
    if not has_features(task):
        raise ValueError(f"task {task.name!r} declares no neural features")
    return FEATURE_SETS[task.declaration.features.kind][0]


def features_from_states(
    task: DeclaredTask, states: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray]:
    """Features (K, F) from validation-set states (K, B, T, S), columns in the paper's order."""
    names = feature_names(task)
    windows = feature_windows(task, task.validation_set())
    values = FEATURE_SETS[task.declaration.features.kind][1](windows, states)
    return names, np.stack([np.asarray(values[n], dtype=float) for n in names], axis=1)


def neural_features(
    population: RNNPopulation, task: DeclaredTask
) -> tuple[tuple[str, ...], np.ndarray]:
    """The neural features of every network (K, F), from one batched validation run."""
    feature_names(task)
    return features_from_states(task, validation_states(population, task))
