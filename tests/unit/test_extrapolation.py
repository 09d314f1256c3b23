"""Extrapolation signatures of the reference networks, their distance, plots and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from atlas.analysis.extrapolation import (
    Signature,
    extrapolation_signature,
    produced_intervals,
    recurrence_period,
    signature_distance,
)
from atlas.analysis.plots_extrapolation import decision_map_plot, tp_plot
from atlas.analysis.plots_trajectories import FixedPointGroup, trajectory_plot
from atlas.analysis.trial_runs import validation_states
from atlas.cli import main
from atlas.networks import from_state_dicts, to_state_dict
from atlas.networks.permutation import permute_hidden_units
from atlas.tasks import get_task

PNG = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def signatures(reference_networks):
    """The signature of every reference network, by name."""
    return {
        net.name: extrapolation_signature(from_state_dicts([net.state_dict]), get_task(net.task))[0]
        for net in reference_networks
    }


def test_reproduction_tp_equals_ts_over_the_training_range(reference_networks, signatures):
    nets = [n for n in reference_networks if n.task == "reproduction"]
    assert {n.architecture for n in nets} == {"vanilla", "gru", "lstm"} and len(nets) == 12
    for net in nets:
        sig = signatures[net.name]
        ts, tp = sig.arrays["ts"], sig.arrays["tp"]
        inside = (ts >= 20) & (ts <= 50)
        error = np.abs(tp[inside] - ts[inside])
        limit, above = sig.summary["extrapolation_limit"], sig.summary["accuracy_above_range"]
        print(
            f"{net.name}: max |tp - ts| in range {np.max(error)}, reproduces up to ts={limit}, "
            f"accuracy beyond {above:.2f}"
        )
        assert np.isfinite(tp[inside]).all(), net.name
        assert np.max(error) <= 2, net.name
        assert ts.min() <= 5 and ts.max() >= 150
        assert sig.summary["tp_slope_in_range"] == pytest.approx(1.0, abs=0.05)


def test_reproduction_networks_differ_beyond_training(signatures):
    beyond = [s.summary["accuracy_above_range"] for n, s in signatures.items() if "repro" in n]
    assert max(beyond) < 0.9  # none of them keeps reproducing up to ts = 150
    assert len({round(b, 3) for b in beyond}) > 3


def test_discrimination_signatures(reference_networks, signatures):
    for net in reference_networks:
        if net.task == "reproduction":
            continue
        sig = signatures[net.name]
        axis, grid = sig.arrays["axis"], sig.arrays["decision_map"]
        assert grid.shape == (len(axis), len(axis))
        assert np.isnan(np.diag(grid)).all()
        assert np.isin(grid[~np.isnan(grid)], (-1.0, 0.0, 1.0)).all()
        assert sig.summary["accuracy_in_range"] >= 0.95, net.name
        assert sig.arrays["late_output"].shape == sig.arrays["events_after"].shape
        if net.task == "delayed":
            assert sig.summary["accuracy_training_delay"] == 1.0, net.name
            assert sig.arrays["delays"].max() >= 5 * 19


def test_tp_definition_on_hand_made_outputs():
    set_onset = np.array([25, 25, 25])
    outputs = np.zeros((1, 3, 120))
    outputs[0, 0, 25 + 30 : 25 + 35] = 0.9  # Go exactly ts = 30 after Set
    outputs[0, 1, 20:27] = 0.9  # a Go before Set, still on at Set: does not count...
    outputs[0, 1, 70:75] = 0.9  # ...the next rise does, 45 after Set
    np.testing.assert_array_equal(produced_intervals(outputs, set_onset)[0], [30, 45, np.nan])


def test_recurrence_period_finds_cycles_not_transients():
    steps = np.arange(200)
    circle = np.stack([np.cos(2 * np.pi * steps / 7), np.sin(2 * np.pi * steps / 7)], -1)
    decay = np.stack([np.exp(-steps / 50.0), np.exp(-steps / 80.0)], -1)
    assert recurrence_period(circle) == 7
    assert np.isnan(recurrence_period(decay))


def test_signature_distance(signatures):
    a, b = signatures["reproduction_gru_20_i100"], signatures["reproduction_lstm_50_i100"]
    assert signature_distance(a, a) == 0.0
    assert signature_distance(a, b) == pytest.approx(signature_distance(b, a))
    assert 0.0 < signature_distance(a, b) <= 1.0
    restored = Signature.from_json(json.loads(json.dumps(a.to_json())))
    assert signature_distance(a, restored) == 0.0
    with pytest.raises(ValueError, match="different tasks"):
        signature_distance(a, signatures["delayed_vanilla_20_i100"])


def test_batched_signatures_match_single_and_ignore_unit_order(reference_networks, signatures):
    net = next(n for n in reference_networks if n.name == "reproduction_vanilla_30_i100")
    perm = torch.randperm(net.units, generator=torch.Generator().manual_seed(0)).tolist()
    permuted = permute_hidden_units(from_state_dicts([net.state_dict]), perm)
    pair = from_state_dicts([net.state_dict, to_state_dict(permuted, 0)])
    both = extrapolation_signature(pair, get_task("reproduction"))
    for sig in both:
        np.testing.assert_array_equal(sig.arrays["tp"], signatures[net.name].arrays["tp"])
    assert signature_distance(both[0], both[1]) == 0.0


def test_plots_are_png(reference_networks, signatures):
    rsg = get_task("reproduction")
    assert tp_plot(signatures["reproduction_gru_30_i100"], rsg).startswith(PNG)
    assert decision_map_plot(
        signatures["interval_vanilla_20_i100"], get_task("interval")
    ).startswith(PNG)
    with pytest.raises(ValueError, match="decision map"):
        tp_plot(signatures["delayed_vanilla_20_i100"], get_task("delayed"))
    net = next(n for n in reference_networks if n.name == "reproduction_gru_30_i100")
    states = validation_states(from_state_dicts([net.state_dict]), rsg)[0]
    points = FixedPointGroup("zero", states[[0, -1], -1], np.array([True, False]))
    picture = trajectory_plot(states, [points])
    assert picture.startswith(PNG)


def test_cli_prints_the_signature(reference_networks, capsys):
    net = next(n for n in reference_networks if n.name == "interval_vanilla_30_i100")
    assert main(["extrapolate", "--task", "interval", "--weights", str(net.weights_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["architecture"] == "vanilla" and report["units"] == 30
    assert report["summary"]["accuracy_in_range"] >= 0.95
    assert len(report["arrays"]["decision_map"]) == len(report["arrays"]["axis"])


def test_cli_bad_input_is_one_line(reference_networks, tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a state dict at all")
    assert main(["extrapolate", "--task", "reproduction", "--weights", str(garbage)]) == 2
    assert main(["extrapolate", "--task", "nope", "--weights", str(garbage)]) == 2
    assert main(["extrapolate", "--task", "delayed", "--weights", str(tmp_path / "none.pt")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("atlas extrapolate: error:") for e in errors)
