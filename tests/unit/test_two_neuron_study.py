"""The two-neuron study: its model's parameters, regimes read from the dynamics agree with the
eigenvalue rule (and where they differ, the dynamics say why), a trained population's study,
and `atlas regimes`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from atlas.analysis.two_neuron_regimes import (
    REGIMES,
    dynamic_regimes,
    eigenvalue_regimes,
    final_losses,
)
from atlas.analysis.two_neuron_study import run_two_neuron_study
from atlas.cli import main
from atlas.studies import STUDY_MODELS, UnknownStudyError, get_study_model, study_name
from atlas.tasks import ParameterError
from atlas.training import TwoNeuronTrainingConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_two_neuron_parameters_follow_science_md():
    model = get_study_model("two_neuron")
    p = model.parameters()
    assert p["x0"] == [1.0, 0.0] and p["target"] == [0.0, 1.0]
    assert p["dt"] == 0.01 and model.n_steps == 1000 and p["solved_loss"] == 1e-4
    assert (p["w_init_low"], p["w_init_high"]) == (-1.5, 1.5)
    assert get_study_model("2d", target=[0.5, 0.5]).parameters()["target"] == [0.5, 0.5]


def test_study_models_are_found_by_alias_and_refuse_bad_overrides():
    assert list(STUDY_MODELS) == ["two_neuron"]
    assert study_name("Two_Neuron_Study") == "two_neuron" and study_name("delayed") is None
    with pytest.raises(UnknownStudyError, match="known: two_neuron"):
        get_study_model("delayed")
    for overrides in ({"dt": 0.03}, {"no_such_parameter": 1}, {"x0": [1.0]}, {"dt": True}):
        with pytest.raises(ParameterError):  # dt 0.03: 10 is not a whole number of steps
            get_study_model("two_neuron", **overrides)


def test_dynamics_agree_with_the_eigenvalue_rule_and_explain_every_difference():
    w = np.random.default_rng(11).uniform(-1.5, 1.5, (1000, 2, 2))
    rule = eigenvalue_regimes(w)
    found = dynamic_regimes(w)
    assert set(rule) == set(REGIMES)
    differ = np.nonzero(rule != found.regimes)[0]
    assert len(differ) <= 10
    eigenvalues = np.linalg.eigvals(w)
    largest_real = eigenvalues.real.max(-1)
    rotation_period = 2 * np.pi / np.maximum(np.abs(eigenvalues.imag).max(-1), 1e-12)
    for k in differ:
        # near a bifurcation, or turning so slowly that two turns outlast the 80-unit tail
        slow = abs(largest_real[k] - 1) < 0.02 or rotation_period[k] > 40
        marginal = slow and found.regimes[k] == "undetermined"
        # complex eigenvalues with real part > 1 make the origin an unstable spiral, yet the
        # orbit from x0 may settle on a stable non-trivial fixed point beside it
        coexisting = (
            rule[k] == "limit_cycle"
            and found.regimes[k] == "fixed_point"
            and found.stable_fixed_points[k] >= 2
        )
        assert marginal or coexisting, (k, rule[k], found.regimes[k], eigenvalues[k])
    cycles = found.regimes == "limit_cycle"
    assert np.isfinite(found.periods[cycles]).all() and np.isnan(found.periods[~cycles]).all()
    # the origin is a fixed point of every W; odd symmetry pairs the others
    assert (found.fixed_points % 2 == 1).all()
    at_origin = np.linalg.norm(found.end_states[found.regimes == "stable_origin"], axis=-1)
    assert np.median(at_origin) < 1e-6  # most have arrived; the rest are closing in


@pytest.fixture(scope="module")
def study():
    config = TwoNeuronTrainingConfig(max_steps=200)
    return run_two_neuron_study(n=48, seed=100, config=config)


def test_study_of_a_trained_population(study):
    counts = study.counts()
    assert counts["n"] == 48
    assert sum(counts["regimes_all"].values()) == 48
    assert 0.4 * 48 <= counts["solved"] == sum(counts["regimes_solved"].values())
    # the paper: solved networks are limit cycles or non-trivial fixed points, almost never the
    # stable origin
    solved = counts["regimes_solved"]
    assert solved["limit_cycle"] + solved["fixed_point"] >= 0.9 * counts["solved"]
    assert counts["readings_agree"] >= 0.9 * 48
    # the loss the trainer reports is the loss of the final W by an independent integration
    np.testing.assert_allclose(final_losses(study.final_w)[study.solved], 0, atol=1.2e-4)
    transitions = study.transitions()
    assert sum(sum(row.values()) for row in transitions.values()) == counts["solved"]
    np.testing.assert_allclose(study.initial_trace, np.trace(study.initial_w, axis1=1, axis2=2))
    assert set(study.maps) == {"trace_determinant", "off_diagonal"}
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in study.maps.values())
    report = json.loads(json.dumps(study.to_dict(include_arrays=True)))
    assert report["solved"] == counts["solved"] and len(report["arrays"]["final_w"]) == 48


def regimes_cli(capsys, path) -> tuple[int, dict | str]:
    code = main(["regimes", "--weights", str(path)])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else captured.err


def test_regimes_command_on_trained_weights(study, tmp_path, capsys):
    path = tmp_path / "final_w.npy"
    np.save(path, study.final_w)
    code, report = regimes_cli(capsys, path)
    assert code == 0
    assert set(report) == {"n", "solved", "regimes_solved", "regimes_all"}
    assert set(report["regimes_solved"]) == set(report["regimes_all"]) == set(REGIMES)
    assert report["n"] == 48
    assert abs(report["solved"] - int(study.solved.sum())) <= 1  # float32 training, float64 here
    assert report["regimes_all"] == {r: int((study.regimes == r).sum()) for r in REGIMES}


def test_regimes_command_on_known_matrices(tmp_path, capsys):
    rotation = np.array([[1.5, -1.0], [1.0, 1.5]])  # eigenvalues 1.5 +- i
    saddle = np.diag([2.0, 0.5])  # real, largest > 1
    contraction = 0.5 * np.eye(2)
    path = tmp_path / "w.npy"
    np.save(path, np.stack([rotation, saddle, contraction, contraction]))
    code, report = regimes_cli(capsys, path)
    assert code == 0
    assert report["regimes_all"] == {"limit_cycle": 1, "fixed_point": 1, "stable_origin": 2}
    assert report["solved"] == 0 and report["regimes_solved"] == dict.fromkeys(REGIMES, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda p: np.save(p, np.array([{"w": 1}], dtype=object), allow_pickle=True), "pickled"),
        (lambda p: np.save(p, np.ones((3, 2))), "(n, 2, 2)"),
        (lambda p: p.write_text("not an array"), "not a plain numeric .npy"),
        (lambda p: np.save(p, np.array([[[np.nan, 1], [1, 1]]])), "NaN"),
        (lambda p: np.save(p, np.array([[["a", "b"], ["c", "d"]]])), "real numbers"),
    ],
)
def test_regimes_command_refuses_bad_files(tmp_path, capsys, content, message):
    path = tmp_path / "bad.npy"
    content(path)
    code, error = regimes_cli(capsys, path)
    assert code == 2
    assert message in error and error.count("\n") == 1


def test_regimes_command_refuses_npz_and_missing_files(tmp_path, capsys):
    archive = tmp_path / "w.npz"
    np.savez(archive, w=np.ones((1, 2, 2)))
    code, error = regimes_cli(capsys, archive)
    assert code == 2 and ".npz archive" in error
    code, error = regimes_cli(capsys, tmp_path / "missing.npy")
    assert code == 2 and "no such file" in error
