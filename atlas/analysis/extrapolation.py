"""Extrapolation signatures: what a network does outside its training range (science.md).

Networks that behave identically on the training set differ out here, so the signature is the
comparable record of that behaviour: arrays over a wide probe grid and what the network does
long after its answer, plus summary scalars. The task's declaration says which signature
(`produced_interval`: tp(ts) as for `reproduction`; `decision`: decisions over two variables,
as over amplitudes or long intervals for the discrimination tasks, optionally accuracy along a
third such as the delay), on which probes, and the trained ranges. Every network of a
population is run on the probes in one batched pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlas.analysis.trial_runs import run_trials
from atlas.networks import RNNPopulation
from atlas.tasks import DeclaredTask, Task, TrialSet
from atlas.tasks.declaration import DecisionSignature, ProducedIntervalSignature
from atlas.tasks.expressions import evaluate

GO_THRESHOLD = 0.5
TP_TOLERANCE = 0.1
TP_TOLERANCE_FLOOR = 2.0
RELIABLE_ACCURACY = 0.9
TAIL_STEPS = 200
LATE_STEPS = 50
SETTLED_SPEED = 5e-5
NETWORKS_PER_PASS = 16
"""Networks whose probe runs (and long-run state tails) are held in memory at once."""


@dataclass
class Signature:
    """One network's extrapolation signature: arrays (probe axes included) and scalars."""

    task: str
    arrays: dict[str, np.ndarray]
    summary: dict[str, float]
    scales: dict[str, float | str] = field(default_factory=dict)
    """How each array enters `signature_distance` (see `distance_scales`)."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: arrays as nested lists, NaN as None."""
        return {
            "task": self.task,
            "summary": {k: _json_float(v) for k, v in self.summary.items()},
            "arrays": {k: _json_array(v) for k, v in self.arrays.items()},
            "scales": self.scales,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Signature:
        arrays = {k: np.array(v, dtype=float) for k, v in data["arrays"].items()}
        summary = {k: math.nan if v is None else float(v) for k, v in data["summary"].items()}
        scales = data.get("scales", {})
        return cls(task=data["task"], arrays=arrays, summary=summary, scales=scales)


def _json_float(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _json_array(values: np.ndarray) -> list:
    as_object = np.asarray(values, dtype=float).astype(object)
    as_object[~np.isfinite(np.asarray(values, dtype=float))] = None
    return as_object.tolist()


# ---------------------------------------------------------------- shared measurements


def rising_edges(above: np.ndarray) -> np.ndarray:
    """True where a boolean series (..., T) switches on; a series on at t = 0 starts there."""
    previous = np.concatenate([np.zeros_like(above[..., :1]), above[..., :-1]], axis=-1)
    return above & ~previous


def first_index_from(flags: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Per row of flags (N, T), the first index >= start[n] that is set; NaN where none is."""
    steps = np.arange(flags.shape[-1])
    masked = flags & (steps >= start[:, None])
    found = masked.any(axis=-1)
    return np.where(found, masked.argmax(axis=-1), np.nan)


def recurrence_period(tail: np.ndarray) -> np.ndarray:
    """Period of the state over its last steps (..., W, S); NaN where it does not recur.

    The state recurs with period p when, going back p steps from the last state, it has first
    moved far away (half the largest distance) and then returned close (5% of it). A state
    that settles or drifts never comes back after leaving, so it gets NaN.
    """
    distance = np.linalg.norm(tail[..., ::-1, :] - tail[..., -1:, :], axis=-1)
    largest = distance.max(axis=-1, keepdims=True)
    went_away = np.maximum.accumulate(distance, axis=-1) > 0.5 * largest
    returned = (distance < 0.05 * largest) & went_away & (largest > 0)
    return np.where(returned.any(axis=-1), returned.argmax(axis=-1), np.nan)


def end_speed(tail: np.ndarray) -> np.ndarray:
    """RMS step per unit over the last ten steps of (..., W, S): how fast the state still moves."""
    steps = np.diff(tail[..., -11:, :], axis=-2)
    return np.sqrt((steps**2).mean(axis=-1)).mean(axis=-1)


def long_run_arrays(outputs: np.ndarray, tail: np.ndarray, answer_end: np.ndarray) -> dict:
    """Behaviour long after the answer, per network and trial (K, B).

    events_after: output events (|y| rising above 0.5) after the answer window; late_output:
    mean output over the last steps; settled: 1 where the state has stopped moving (a fixed
    point); period: the recurrence period of a state still moving (a limit cycle), else NaN.
    """
    above = np.abs(outputs) > GO_THRESHOLD
    after = np.arange(outputs.shape[-1]) >= answer_end[:, None]
    settled = end_speed(tail) < SETTLED_SPEED
    return {
        "events_after": (rising_edges(above) & after).sum(axis=-1).astype(float),
        "late_output": outputs[..., -LATE_STEPS:].mean(axis=-1),
        "settled": settled.astype(float),
        "period": np.where(settled, np.nan, recurrence_period(tail)),
    }


def long_run_summary(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Shares of trials that stay silent after answering, settle, or oscillate."""
    period = arrays["period"]
    oscillating = np.isfinite(period)
    return {
        "long_run_silent_fraction": float(np.mean(arrays["events_after"] == 0)),
        "long_run_settled_fraction": float(np.mean(arrays["settled"])),
        "long_run_oscillating_fraction": float(np.mean(oscillating)),
        "long_run_period": float(np.median(period[oscillating])) if oscillating.any() else math.nan,
    }


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and offset of y(x) over the finite points; NaN when fewer than two."""
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return math.nan, math.nan
    slope, offset = np.polyfit(x[ok], y[ok], 1)
    return float(slope), float(offset)


def share(flags: np.ndarray, where: np.ndarray) -> float:
    return float(flags[where].mean()) if where.any() else math.nan


def _run(population: RNNPopulation, trials, keep_last: int = 0) -> tuple[np.ndarray, np.ndarray]:
    run = run_trials(population, trials, keep_last=keep_last)
    states = None if run.states is None else run.states.astype(np.float64)
    return run.outputs[..., 0].astype(np.float64), states


# ---------------------------------------------------------------- produced interval


def produced_intervals(outputs: np.ndarray, set_onset: np.ndarray) -> np.ndarray:
    """tp per network and trial (K, B): first step at or after Set onset where the output rises
    above 0.5, minus the Set onset; NaN where it never does (no Go).

    A network whose output starts rising exactly when the target does (Set onset + ts) gets
    tp == ts. An output already high at Set onset (a Go produced before Set) does not count:
    the rise must happen after Set.
    """
    edges = rising_edges(outputs > GO_THRESHOLD)
    k, b, t = outputs.shape
    onset = np.tile(set_onset, k)
    return (first_index_from(edges.reshape(k * b, t), onset) - onset).reshape(k, b)


def onsets(task: DeclaredTask, period: str, trials: TrialSet) -> np.ndarray:
    """Where a period starts in each trial, (B,)."""
    return task.timing(trials.conditions)[period][0]


def produced_interval_signature(
    population: RNNPopulation, task: DeclaredTask, spec: ProducedIntervalSignature
) -> list[Signature]:
    """tp against the declared interval over a probe, and what follows the answer."""
    probes = task.probes()
    sweep, long_run = probes[spec.probe], probes[spec.long_run]
    names = task.names()
    trained = tuple(float(evaluate(x, names)) for x in spec.trained)
    ts = sweep.conditions[spec.interval].astype(float)
    set_onset = onsets(task, spec.from_period, sweep)
    outputs, _ = _run(population, sweep)
    tp = produced_intervals(outputs, set_onset)
    before_set = np.arange(sweep.trial_length) < set_onset[:, None]
    early_go = ((outputs > GO_THRESHOLD) & before_set).any(axis=-1).astype(float)

    long_out, tail = _run(population, long_run, keep_last=TAIL_STEPS)
    long_set = onsets(task, spec.from_period, long_run)
    go = produced_intervals(long_out, long_set) + long_set
    answer_end = np.where(np.isfinite(go), go + 1, long_run.trial_length).astype(int)
    signatures = []
    for k in range(population.count):
        runs = long_run_arrays(long_out[k], tail[k], answer_end[k])
        runs["events_after"][~np.isfinite(go[k])] = math.nan
        arrays = {
            spec.interval: ts,
            "tp": tp[k],
            "early_go": early_go[k],
            f"long_run_{spec.interval}": long_run.conditions[spec.interval].astype(float),
            **runs,
        }
        summary = produced_interval_summary(trained, ts, tp[k], early_go[k])
        summary.update(long_run_summary(runs))
        answered = np.isfinite(runs["events_after"])
        summary["long_run_repeat_fraction"] = share(runs["events_after"] > 0, answered)
        signatures.append(Signature(task.name, arrays, summary, distance_scales(task)))
    return signatures


def produced_interval_summary(
    trained: tuple[float, float], ts: np.ndarray, tp: np.ndarray, early_go: np.ndarray
) -> dict[str, float]:
    """Accuracy, Go rate and the tp(ts) line inside, below and above the training range."""
    low, high = trained
    inside = (ts >= low) & (ts <= high)
    below, above = ts < low, ts > high
    tolerance = np.maximum(TP_TOLERANCE_FLOOR, TP_TOLERANCE * ts)
    accurate = np.abs(tp - ts) <= tolerance
    has_go = np.isfinite(tp)
    summary: dict[str, float] = {
        "tp_error_in_range": float(np.nanmax(np.abs(tp - ts)[inside]))
        if has_go[inside].any()
        else math.nan,
        "accuracy_in_range": share(accurate, inside),
        "accuracy_below_range": share(accurate, below),
        "accuracy_above_range": share(accurate, above),
        "go_fraction_in_range": share(has_go, inside),
        "go_fraction_outside_range": share(has_go, ~inside),
        "early_go_fraction": float(early_go.mean()),
        "extrapolation_limit": reach(ts[ts >= high], accurate[ts >= high]),
    }
    for name, where in (("in_range", inside), ("below_range", below), ("above_range", above)):
        slope, offset = line_fit(ts[where], tp[where])
        summary[f"tp_slope_{name}"] = slope
        summary[f"tp_offset_{name}"] = offset
    return summary


def reach(x: np.ndarray, ok: np.ndarray) -> float:
    """The largest x up to which every x, taken in increasing order, is ok; NaN if the first
    is not."""
    order = np.argsort(x)
    failed = np.flatnonzero(~ok[order])
    last = failed[0] - 1 if failed.size else len(x) - 1
    return float(x[order][last]) if last >= 0 else math.nan


# ---------------------------------------------------------------- decisions


def decisions(outputs: np.ndarray, start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Mean output in each trial's response window [start, start + length), (K, B)."""
    window = np.arange(outputs.shape[-1])
    inside = (window >= start[:, None]) & (window < (start + length)[:, None])
    return (outputs * inside).sum(axis=-1) / length


def decision_grid(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, axis: np.ndarray):
    """Trial values (B,) placed on the (axis x axis) grid at their (row, col) conditions; NaN
    where no trial is."""
    grid = np.full((len(axis), len(axis)), np.nan)
    grid[np.searchsorted(axis, rows), np.searchsorted(axis, cols)] = values
    return grid


def correct_decisions(
    population: RNNPopulation, task: DeclaredTask, period: str, trials: TrialSet
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decisions (K, B), whether their sign is the target's, and where each answer ends."""
    onset, duration = task.timing(trials.conditions)[period]
    outputs, _ = _run(population, trials)
    response = decisions(outputs, onset, duration)
    correct = np.sign(response) == np.sign(task.period_target(period, trials.conditions))
    return response, correct, onset + duration


def decision_signature(
    population: RNNPopulation, task: DeclaredTask, spec: DecisionSignature
) -> list[Signature]:
    """Decision maps over the probe grid, accuracy inside and beyond the trained ranges (and
    along `accuracy_by`), and long-run behaviour."""
    probes, names = task.probes(), task.names()
    grid = probes[spec.probe]
    a, b = (grid.conditions[n].astype(float) for n in spec.axes)
    axis = np.unique(np.concatenate([a, b]))
    response, correct, _ = correct_decisions(population, task, spec.response_period, grid)
    inside, beyond, below = (np.ones(len(a), bool), np.zeros(len(a), bool), np.zeros(len(a), bool))
    for variable, (low, high) in spec.trained.items():
        values = grid.conditions[variable].astype(float)
        lo, hi = evaluate(low, names), evaluate(high, names)
        inside &= (values >= lo) & (values <= hi)
        beyond |= values > hi
        below |= values < lo

    long_run = probes[spec.long_run]
    long_out, tail = _run(population, long_run, keep_last=TAIL_STEPS)
    onset, duration = task.timing(long_run.conditions)[spec.response_period]
    answer_end = onset + duration
    by = accuracy_by(population, task, spec) if spec.accuracy_by is not None else None
    signatures = []
    for k in range(population.count):
        runs = long_run_arrays(long_out[k], tail[k], answer_end)
        arrays = {
            "axis": axis,
            "decision_map": decision_grid(np.sign(response[k]), a, b, axis),
            "response_map": decision_grid(response[k], a, b, axis),
            **runs,
        }
        summary = {
            "accuracy_in_range": share(correct[k], inside),
            "accuracy_outside_range": share(correct[k], ~inside),
            "accuracy_above_range": share(correct[k], beyond),
            "accuracy_below_range": share(correct[k], below),
            **long_run_summary(runs),
        }
        if by is not None:
            by(k, arrays, summary)
        signatures.append(Signature(task.name, arrays, summary, distance_scales(task)))
    return signatures


def accuracy_by(
    population: RNNPopulation, task: DeclaredTask, spec: DecisionSignature
) -> Callable[[int, dict, dict], None]:
    """Accuracy along one probe variable (say, delay), added to network k's signature."""
    by = spec.accuracy_by
    probe = task.probes()[by.probe]
    _, correct, _ = correct_decisions(population, task, spec.response_period, probe)
    variable = probe.conditions[by.variable]
    values = np.unique(variable)
    accuracy = np.stack([correct[:, variable == v].mean(axis=1) for v in values], axis=1)
    trained = values == evaluate(by.trained, task.names())
    name = by.variable

    def add(k: int, arrays: dict, summary: dict) -> None:
        arrays[f"{name}s"] = values.astype(float)
        arrays[f"accuracy_by_{name}"] = accuracy[k]
        summary[f"accuracy_training_{name}"] = (
            float(accuracy[k][trained][0]) if trained.any() else math.nan
        )
        summary[f"accuracy_longest_{name}"] = float(accuracy[k][-1])
        summary[f"longest_reliable_{name}"] = reach(values, accuracy[k] >= RELIABLE_ACCURACY)

    return add


# ---------------------------------------------------------------- by declaration


def has_signature(task: Task) -> bool:
    """Whether the task declares an extrapolation signature."""
    return isinstance(task, DeclaredTask) and task.declaration.signature is not None


def distance_scales(task: DeclaredTask) -> dict[str, float | str]:
    """How each signature array enters the distance: its mismatch scale (a number, or the name
    of an array), from the kind of signature the task declares."""
    spec = task.declaration.signature
    if isinstance(spec, ProducedIntervalSignature):
        scales: dict[str, float | str] = {"tp": spec.interval, "early_go": 1.0}
    else:
        scales = {"decision_map": 2.0}
        if spec.accuracy_by is not None:
            scales[f"accuracy_by_{spec.accuracy_by.variable}"] = 1.0
        scales["late_output"] = 2.0
    return {**scales, "events_after": 3.0, "settled": 1.0}


def extrapolation_signature(population: RNNPopulation, task: Task) -> list[Signature]:
    """The extrapolation signature of every network in the population, one per network (run
    in batches of NETWORKS_PER_PASS networks), as the task's declaration describes it."""
    if not has_signature(task):
        raise ValueError(f"task {task.name!r} declares no extrapolation signature")
    if population.n_inputs != task.n_inputs or population.n_outputs != task.n_outputs:
        raise ValueError(
            f"networks with {population.n_inputs} inputs and {population.n_outputs} outputs "
            f"cannot run task {task.name!r} ({task.n_inputs} inputs, {task.n_outputs} outputs)"
        )
    spec = task.declaration.signature
    signature_of = (
        produced_interval_signature
        if isinstance(spec, ProducedIntervalSignature)
        else decision_signature
    )
    if population.count <= NETWORKS_PER_PASS:
        return signature_of(population, task, spec)
    signatures = []
    for start in range(0, population.count, NETWORKS_PER_PASS):
        index = range(start, min(start + NETWORKS_PER_PASS, population.count))
        signatures += signature_of(population.select(index), task, spec)
    return signatures


def mismatch(a: np.ndarray, b: np.ndarray, scale: np.ndarray | float) -> float:
    """Mean elementwise disagreement in [0, 1]: |a - b| / scale capped at 1; an entry defined
    in one signature and undefined (NaN) in the other counts fully, undefined in both not at all.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        diff = np.minimum(np.abs(a - b) / scale, 1.0)
    diff = np.where(nan_a | nan_b, (nan_a ^ nan_b).astype(float), diff)
    return float(diff.mean()) if diff.size else 0.0


def signature_distance(
    a: Signature, b: Signature, scales: dict[str, float | str] | None = None
) -> float:
    """Distance in [0, 1] between two signatures of one task: 0 for identical behaviour.

    The mean over the task's arrays of their elementwise mismatch, each at its scale
    (`distance_scales` of the task; by default the scales the signature was recorded with).
    """
    if a.task != b.task:
        raise ValueError(f"signatures of different tasks ({a.task!r}, {b.task!r}) do not compare")
    scales = scales or a.scales
    if not scales:
        raise ValueError("the signature carries no distance scales: pass the task's")
    parts = []
    for name, scale in scales.items():
        if a.arrays[name].shape != b.arrays[name].shape:
            raise ValueError(f"signature arrays {name!r} differ in shape: probes differ")
        if isinstance(scale, str):
            scale = np.abs(a.arrays[scale])
        parts.append(mismatch(a.arrays[name], b.arrays[name], scale))
    return float(np.mean(parts))
