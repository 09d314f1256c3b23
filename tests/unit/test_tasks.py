"""The tasks' trial sets against science.md, checked trial by trial on hand-picked conditions."""

from __future__ import annotations

import numpy as np
import pytest

from atlas.tasks import ParameterError, UnknownTaskError, canonical_name, get_task


def _trial(trials, **conditions):
    """The one trial of a set whose conditions match, as numpy (inputs, targets)."""
    match = np.ones(len(trials), dtype=bool)
    for name, value in conditions.items():
        match &= trials.conditions[name] == value
    (index,) = np.flatnonzero(match)
    return trials.inputs[index].numpy(), trials.targets[index].numpy()


def _on(series: np.ndarray) -> tuple[list[int], set[float]]:
    """The steps where a channel is non-zero and the values it takes there."""
    steps = np.flatnonzero(series).tolist()
    return steps, set(series[steps].tolist())


def test_delayed_sets_follow_science_md():
    task = get_task("delayed")
    train, valid = task.training_set(), task.validation_set()
    assert train.inputs.shape == (1440, 60, 2) and train.targets.shape == (1440, 60, 1)
    pairs = set(zip(train.conditions["f1"], train.conditions["f2"], strict=True))
    assert len(pairs) == 72 and all(2 <= a <= 10 and 2 <= b <= 10 and a != b for a, b in pairs)
    assert sorted(set(train.conditions["delay"])) == list(range(20))

    inputs, targets = _trial(train, f1=7, f2=3, delay=5)
    assert _on(inputs[:, 0]) == ([5, 6, 7, 8, 9], {7.0})
    assert _on(inputs[:, 1]) == ([20, 21, 22, 23, 24], {3.0})
    assert _on(targets[:, 0]) == ([35, 36, 37, 38, 39], {1.0})

    inputs, targets = _trial(train, f1=2, f2=10, delay=0)
    assert _on(inputs[:, 1]) == ([15, 16, 17, 18, 19], {10.0})
    assert _on(targets[:, 0]) == ([30, 31, 32, 33, 34], {-1.0})

    assert len(valid) == 72 and set(valid.conditions["delay"]) == {19}
    inputs, targets = _trial(valid, f1=4, f2=9)
    assert _on(inputs[:, 1]) == ([34, 35, 36, 37, 38], {9.0})
    assert _on(targets[:, 0]) == ([49, 50, 51, 52, 53], {-1.0})


def test_interval_sets_follow_science_md():
    task = get_task("interval")
    train = task.training_set()
    assert train.inputs.shape == (420, 90, 2)
    assert len(task.validation_set()) == 420
    assert set(train.conditions["t1"]) == set(range(10, 31)) == set(train.conditions["t2"])
    assert not np.any(train.conditions["t1"] == train.conditions["t2"])

    inputs, targets = _trial(train, t1=12, t2=25)
    assert _on(inputs[:, 0]) == ([12, 13], {1.0})
    assert _on(inputs[:, 1]) == ([37, 38], {1.0})
    assert _on(targets[:, 0]) == ([52, 53], {-1.0})

    inputs, targets = _trial(train, t1=30, t2=29)
    assert _on(inputs[:, 1]) == ([59, 60], {1.0})
    assert _on(targets[:, 0]) == ([74, 75], {1.0})


def test_reproduction_sets_follow_science_md():
    task = get_task("reproduction")
    train, valid = task.training_set(), task.validation_set()
    assert train.inputs.shape == (128, 150, 2)
    assert set(train.conditions["ts"]) <= set(range(20, 51))
    assert valid.conditions["ts"].tolist() == list(range(20, 51))

    inputs, targets = _trial(valid, ts=23)
    assert _on(inputs[:, 0]) == ([5, 6, 7, 8, 9], {1.0})
    assert _on(inputs[:, 1]) == ([28, 29, 30, 31, 32], {1.0})
    assert _on(targets[:, 0]) == ([51, 52, 53, 54, 55], {1.0})

    inputs, targets = _trial(valid, ts=50)
    assert _on(targets[:, 0]) == ([105, 106, 107, 108, 109], {1.0})
    # The training draw is recorded by its seed: the same parameters give the same trials.
    assert np.array_equal(train.conditions["ts"], task.training_set().conditions["ts"])


def test_probes_reach_beyond_training():
    delayed = get_task("delayed").probes()
    assert delayed["long_delay"].conditions["delay"].max() > 19
    amplitudes = delayed["amplitude"].conditions["f1"]
    assert amplitudes.min() < 2 and amplitudes.max() > 10
    interval = get_task("interval").probes()
    assert interval["long_intervals"].conditions["t1"].max() > 30
    reproduction = get_task("reproduction").probes()["ts_sweep"].conditions["ts"]
    assert reproduction.min() <= 5 and reproduction.max() >= 150


def test_overrides_are_recorded_and_used():
    task = get_task("delayed", delay_max=30, trial_length=80)
    assert task.parameters()["delay_max"] == 30 and task.parameters()["trial_length"] == 80
    train = task.training_set()
    assert len(train) == 72 * 31 and train.trial_length == 80
    rebuilt = get_task("delayed", **task.parameters())
    assert np.array_equal(rebuilt.training_set().inputs, train.inputs)


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("delayed", {"no_such_parameter": 1}),
        ("delayed", {"delay_max": 40}),  # the response would not fit in 60 steps
        ("delayed", {"f_min": 5, "f_max": 3}),
        ("interval", {"t_max": 50}),
        ("reproduction", {"ts_min": 0}),
    ],
)
def test_bad_overrides_are_rejected(name, overrides):
    with pytest.raises(ParameterError):
        get_task(name, **overrides)


def test_aliases_resolve():
    assert canonical_name("delayed_discrimination") == "delayed"
    assert canonical_name("Interval_Discrimination") == "interval"
    assert canonical_name("rsg") == "reproduction"
    assert canonical_name("ready_set_go") == "reproduction"
    assert get_task("interval_reproduction").name == "reproduction"
    with pytest.raises(UnknownTaskError, match="known tasks"):
        get_task("no_such_task")
    for study_model in ("two_neuron", "two_neuron_study"):  # a study model (atlas.studies)
        with pytest.raises(UnknownTaskError):
            canonical_name(study_model)
