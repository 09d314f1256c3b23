"""Task declarations: the paper's tasks as data (bit-identical to the hand-written tasks they
replaced), one message per mistake in a user's declaration, and safe expressions."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from atlas.analysis.extrapolation import distance_scales
from atlas.analysis.features import DELAYED_FEATURES, EPOCH_FEATURES, feature_names
from atlas.tasks import (
    DeclarationError,
    ParameterError,
    TrialSet,
    get_task,
    load_declaration,
    task_from_declaration,
)
from atlas.tasks.expressions import ExpressionError, evaluate
from atlas.tasks.registry import paper_declaration

GO_NO_GO = Path(__file__).parents[1] / "declarations" / "go_no_go_delay.yaml"

# sha256 (first 16 hex digits) of every tensor and condition array of each set, computed with
# the hand-written DelayedDiscrimination, IntervalDiscrimination and IntervalReproduction
# classes (commit c5fe1f7) before the paper's tasks became declarations.
HAND_WRITTEN_SETS = {
    ("delayed", ()): {
        "training": "075181dddbc8b2bc",
        "validation": "af8d93ee7a23be92",
        "amplitude": "4fce837ac797c174",
        "long_delay": "bbecc86833ce0135",
        "long_run": "2ab6c101e3c8c136",
    },
    (
        "delayed",
        (
            ("delay_max", 2),
            ("f1_onset", 2),
            ("f2_onset", 16),
            ("response_onset", 24),
            ("trial_length", 32),
        ),
    ): {
        "training": "0f3ca08681ef0364",
        "validation": "b486982552f6ac6f",
        "amplitude": "d53b0c08ed2dced3",
        "long_delay": "33ddc6d639751107",
        "long_run": "8e8f88b07f072bc8",
    },
    ("interval", ()): {
        "training": "581d339cff257422",
        "validation": "581d339cff257422",
        "long_intervals": "603b6f569c79323f",
        "long_run": "1fe79936e394f51b",
    },
    ("interval", (("t_max", 20), ("trial_length", 60))): {
        "training": "a906b2d669d876db",
        "validation": "a906b2d669d876db",
        "long_intervals": "e5c119ce4342f6fe",
        "long_run": "250e3eaccc7b049d",
    },
    ("reproduction", ()): {
        "training": "727b702325a44463",
        "validation": "f673d61f5e8e50e6",
        "ts_sweep": "bd8d3cc0025a3e96",
        "long_run": "377ed7c14a017303",
    },
    ("reproduction", (("training_seed", 3), ("training_trials", 64), ("ts_max", 30))): {
        "training": "49496b56287cd1c7",
        "validation": "6437415781f14711",
        "ts_sweep": "2bacab25b1a6e0fe",
        "long_run": "a30433cf10443fc5",
    },
}
# sha256 of repr(input_events()) + repr(graph_protocol()) of the hand-written tasks.
HAND_WRITTEN_GRAPH_INPUTS = {
    ("delayed", ()): "fb23e1c5887010c5",
    ("delayed", (("delay_max", 2), ("f1_onset", 2), ("f2_onset", 16), ("response_onset", 24),
                 ("trial_length", 32))): "a7aea72600f78d1a",
    ("interval", ()): "99038e4124ceab45",
    ("reproduction", ()): "6267baa19840892d",
}  # fmt: skip


def digest(trials: TrialSet) -> str:
    h = hashlib.sha256()
    for tensor in (trials.inputs, trials.targets):
        h.update(tensor.numpy().tobytes())
        h.update(str(tuple(tensor.shape)).encode())
    for name in sorted(trials.conditions):
        values = np.asarray(trials.conditions[name])
        h.update(name.encode())
        h.update(str(values.dtype).encode())
        h.update(values.tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("case", list(HAND_WRITTEN_SETS), ids=lambda c: f"{c[0]}{dict(c[1])}")
def test_paper_tasks_make_the_hand_written_trial_sets_bit_for_bit(case):
    name, overrides = case
    task = get_task(name, **dict(overrides))
    sets = {"training": task.training_set(), "validation": task.validation_set()}
    sets.update(task.probes())
    assert {k: digest(v) for k, v in sets.items()} == HAND_WRITTEN_SETS[case]


@pytest.mark.parametrize("case", list(HAND_WRITTEN_GRAPH_INPUTS), ids=lambda c: c[0])
def test_paper_tasks_give_the_hand_written_graph_events_and_protocols(case):
    name, overrides = case
    task = get_task(name, **dict(overrides))
    text = repr(task.input_events()) + repr(task.graph_protocol())
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == HAND_WRITTEN_GRAPH_INPUTS[case]


def test_output_labels_follow_the_declared_rule():
    output = np.array([-1.2, -0.6, -0.4, 0.1, 0.16, 0.6])
    assert get_task("delayed").output_label(output).tolist() == [-1, -1, 0, 0, 0, 1]
    assert get_task("reproduction").output_label(output).tolist() == [0, 0, 0, 0, 1, 1]


def test_analyses_read_the_declaration_not_the_name():
    """A paper task under another name is measured and compared exactly as the original."""
    data = paper_declaration("reproduction").model_dump(by_alias=True)
    data.update(name="my_rsg", long_name="my_rsg", aliases=[])
    renamed = task_from_declaration(load_declaration(data))
    original = get_task("reproduction")
    assert digest(renamed.training_set()) == digest(original.training_set())
    assert feature_names(renamed) == EPOCH_FEATURES
    assert distance_scales(renamed) == distance_scales(original)
    assert feature_names(get_task("delayed")) == DELAYED_FEATURES
    # the distance weights the paper's tasks had when they were tables keyed by task name
    assert distance_scales(get_task("delayed")) == {
        "decision_map": 2.0,
        "accuracy_by_delay": 1.0,
        "late_output": 2.0,
        "events_after": 3.0,
        "settled": 1.0,
    }
    assert distance_scales(original) == {
        "tp": "ts",
        "early_go": 1.0,
        "events_after": 3.0,
        "settled": 1.0,
    }


# ---------------------------------------------------------------------------- a user's task


@pytest.fixture(scope="module")
def go_no_go() -> dict:
    return yaml.safe_load(GO_NO_GO.read_text())


def test_periods_without_onset_follow_each_other(go_no_go):
    """NeuroGym's timing: a period without onset starts where the one before it ends."""
    task = task_from_declaration(load_declaration(go_no_go))
    trials = task.training_set()
    onset, _ = task.timing(trials.conditions)["response"]
    assert onset.tolist() == (2 + 3 + trials.conditions["delay"] + 2).tolist()
    (index,) = np.flatnonzero((trials.conditions["cue"] == -1) & (trials.conditions["delay"] == 4))
    assert np.flatnonzero(trials.targets[index, :, 0].numpy()).tolist() == [11, 12, 13]
    assert set(trials.targets[index, :, 0].tolist()) == {0.0, -1.0}
    assert np.flatnonzero(trials.inputs[index, :, 1].numpy()).tolist() == [9, 10]


def _set(data: dict, path: str, value) -> None:
    keys = path.split(".")
    for key in keys[:-1]:
        data = data[int(key)] if isinstance(data, list) else data[key]
    last = keys[-1]
    if value is KeyError:
        del data[last]
    elif isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


MISTAKES = {
    "overlapping periods": (
        "periods.3.onset", "cue_onset", "periods 'cue' and 'response' overlap"),
    "target outside the trial": (
        "trial_length", 15, "target 'response' ends after the trial's 15 steps"),
    "unknown channel": (
        "periods.0.inputs", {"cues": "cue"}, "unknown input channel 'cues'"),
    "unknown output": (
        "periods.3.targets", {"answer": "cue"}, "unknown output 'answer'"),
    "grid too large to train": (
        "training.grid.cue", {"from": 1, "to": 30000}, "too large to train: 150000 trials"),
    "empty training set": ("training.where", "cue > 5", "training: the set has no trials"),
    "unknown name": ("periods.0.onset", "cue_onsett", "unknown name(s) ['cue_onsett']"),
    "code in an expression": (
        "periods.0.duration", "__import__('os').getcwd()", "is not allowed"),
    "broken expression": ("periods.0.duration", "cue_length +", "is not an expression"),
    "unknown graph event": ("graph.response_events", ["beep"], "unknown event 'beep'"),
    "unknown probe in the signature": (
        "signature.long_run", "forever", "no trial set 'forever'"),
    "feature windows of another set": (
        "features.kind", "two_epochs", "measure the windows ['first', 'second']"),
    "window picking no trial": (
        "features.windows.answer.0.select.delay", 7, "0 trials with {'cue': -1, 'delay': 7}"),
    "broken constraint": ("parameters.delay_min", 0, "need 1 <= delay_min <= delay_max"),
    "missing field": ("inputs", KeyError, "inputs: Field required"),
    # sizes that would exhaust the server before any other check could run
    "unbounded exponent": ("periods.0.duration", "9 ** 9 ** 9", "exponents above 64"),
    "range of 10^15 values": (
        "training.grid.delay", {"from": 1, "to": 10**15}, "values; at most 2000000"),
    "pulse of 10^12 steps": ("events.signal.duration", 10**12, "steps up to 100000"),
    "deeply nested expression": (
        "periods.0.duration", "(" * 300 + "1" + ")" * 300, "at most 400 characters"),
    "bad name": ("name", "Go No Go", "name: String should match pattern"),
}  # fmt: skip


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_is_refused_with_its_own_message(go_no_go, mistake):
    path, value, message = MISTAKES[mistake]
    data = copy.deepcopy(go_no_go)
    _set(data, path, value)
    with pytest.raises(DeclarationError) as caught:
        load_declaration(data)
    assert len(caught.value.problems) == 1, caught.value.problems
    assert message in caught.value.problems[0]


def test_every_mistake_is_listed(go_no_go):
    data = copy.deepcopy(go_no_go)
    _set(data, "periods.0.inputs", {"cues": "cue"})
    _set(data, "periods.0.onset", "cue_onsett")
    _set(data, "graph.response_events", ["beep"])
    with pytest.raises(DeclarationError) as caught:
        load_declaration(data)
    assert len(caught.value.problems) == 3


def test_a_declared_tasks_parameters_are_checked(go_no_go):
    task = task_from_declaration(load_declaration(go_no_go), version=2)
    assert task.parameters()["version"] == 2 and task.delay_max == 6
    assert task.with_overrides(delay_max=8.0).parameters()["delay_max"] == 8
    with pytest.raises(ParameterError, match="whole number"):
        task.with_overrides(delay_max=7.5)
    with pytest.raises(ParameterError, match="must be a number"):
        task.with_overrides(delay_max="8")
    with pytest.raises(ParameterError, match="version is chosen"):
        task.with_overrides(version=1)
    with pytest.raises(ParameterError, match="need 1 <= delay_min"):
        task.with_overrides(delay_min=9)


# ---------------------------------------------------------------------------- expressions


def test_expressions_work_per_trial_and_reduce_with_max():
    names = {"a": 2, "t": np.array([1, 5, 3])}
    assert evaluate("a * t + 1", names).tolist() == [3, 11, 7]
    assert evaluate("max(t) + a", names) == 7
    assert evaluate("max(t, 2 * a)", names).tolist() == [4, 5, 4]
    assert evaluate("0 < a <= 2 and not a == 3", names)
    assert evaluate("sign(t - 3)", names).tolist() == [-1, 1, 0]
    assert evaluate("(a + 7) // 2", names) == 4
    assert evaluate(12, names) == 12


@pytest.mark.parametrize(
    "text",
    ["a.__class__", "open('x')", "[1, 2]", "a if a else 1", "lambda: 1", "'text'", "t[0]"],
)
def test_expressions_refuse_everything_but_arithmetic(text):
    with pytest.raises(ExpressionError):
        evaluate(text, {"a": 1, "t": np.arange(3)})


def test_unknown_names_are_reported():
    with pytest.raises(ExpressionError, match="unknown name 'b'"):
        evaluate("a + b", {"a": 1})


def test_the_neurogym_example_in_the_docs_is_a_valid_task():
    """docs/tasks.md's NeuroGym-style declaration: fixation on until the decision, the cue
    channel of the trial's type in the stimulus period, the signed answer in the decision."""
    text = (Path(__file__).parents[2] / "docs" / "tasks.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    trials = task_from_declaration(load_declaration(yaml.safe_load(block))).training_set()
    go = int(np.flatnonzero(trials.conditions["trial_go"] == 1)[0])
    inputs, targets = trials.inputs[go].numpy(), trials.targets[go, :, 0].numpy()
    assert inputs.shape == (18, 3)
    assert np.flatnonzero(inputs[:, 0]).tolist() == list(range(13))
    assert np.flatnonzero(inputs[:, 1]).tolist() == [3, 4, 5, 6, 7] and not inputs[:, 2].any()
    assert targets.tolist() == [0.0] * 13 + [1.0] * 5
    assert trials.targets[1 - go, 13:, 0].tolist() == [-1.0] * 5


def test_cli_commands_take_a_declaration_file():
    from atlas.cli import CommandError
    from atlas.cli.loading import resolve_task

    task = resolve_task(str(GO_NO_GO), ["delay_max=8"])
    assert (task.name, task.delay_max) == ("go_no_go_delay", 8)
    assert task.training_set().trial_length == 20
    with pytest.raises(CommandError, match="bad task parameters"):
        resolve_task(str(GO_NO_GO), ["delay_min=0"])
