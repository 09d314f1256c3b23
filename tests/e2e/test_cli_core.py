"""`atlas train` and `atlas evaluate` end to end, bad input included."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from atlas.cli import main
from atlas.networks import RNNPopulation, load_state_dict, to_state_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = ["--param", "f_max=5", "--param", "delay_max=1"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_writes_a_population_folder_that_evaluate_reads(tmp_path, capsys):
    out = tmp_path / "population"
    args = ["--arch", "vanilla", "--units", "6", "--count", "2", "--seed", "3", "--threads", "1"]
    code, stdout, _ = _run(
        capsys, "train", "--task", "delayed", *args, "--max-epochs", "3",
        "--checkpoint-every", "2", *SMALL, "--out", str(out),
    )  # fmt: skip
    assert code == 0 and json.loads(stdout)["out"] == str(out)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["task"] == "delayed" and meta["architecture"] == "vanilla" and meta["units"] == 6
    assert meta["task_parameters"]["f_max"] == 5 and meta["task_parameters"]["delay_max"] == 1
    assert meta["task_parameters"]["trial_length"] == 60
    assert meta["seeds"] == [3, 4] and meta["config"]["max_epochs"] == 3
    assert [n["index"] for n in meta["networks"]] == [0, 1]
    for k, network in enumerate(meta["networks"]):
        assert network["seed"] == 3 + k and network["epochs"] == 3
        assert network["status"] in ("converged", "failed", "unfinished")
        initial = load_state_dict(out / network["initial"])
        expected = to_state_dict(RNNPopulation.initialise("vanilla", 6, [3 + k]), 0)
        assert all(torch.equal(initial[key], expected[key]) for key in expected)
        assert [c["epoch"] for c in network["checkpoints"]] == [2]
        assert load_state_dict(out / network["checkpoints"][0]["path"]).keys() == expected.keys()
        assert np.load(out / network["loss_curve"]).shape == (3,)

        code, stdout, _ = _run(
            capsys,
            "evaluate",
            "--task",
            "delayed",
            *SMALL,
            "--weights",
            str(out / network["final"]),
        )
        result = json.loads(stdout)
        assert code == 0 and (result["architecture"], result["units"]) == ("vanilla", 6)
        assert result["mse"] == pytest.approx(network["validation_loss"], rel=1e-5)


def test_train_two_neuron_writes_weight_arrays(tmp_path, capsys):
    out = tmp_path / "w"
    code, stdout, _ = _run(
        capsys, "train", "--task", "two_neuron", "--count", "3", "--seed", "7",
        "--max-epochs", "5", "--out", str(out),
    )  # fmt: skip
    assert code == 0
    assert np.load(out / "initial_w.npy").shape == np.load(out / "final_w.npy").shape == (3, 2, 2)
    loss = np.load(out / "loss.npy")
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seeds"] == [7, 8, 9] and meta["config"]["max_steps"] == 5
    assert [n["loss"] for n in meta["networks"]] == pytest.approx(loss.tolist())
    np.save(tmp_path / "w0.npy", np.load(out / "final_w.npy")[0])
    code, stdout, _ = _run(
        capsys, "evaluate", "--task", "two_neuron", "--weights", str(tmp_path / "w0.npy")
    )
    assert code == 0 and json.loads(stdout)["mse"] == pytest.approx(loss[0], rel=1e-3)


def test_evaluate_reference_networks_by_long_name(reference_networks, capsys):
    for ref in reference_networks[::5]:
        code, stdout, _ = _run(
            capsys, "evaluate", "--task", f"{ref.task}", "--weights", str(ref.weights_path)
        )
        result = json.loads(stdout)
        assert code == 0 and result["mse"] < 2e-4
        assert (result["architecture"], result["units"]) == (ref.architecture, ref.units)
    code, stdout, _ = _run(
        capsys, "evaluate", "--task", "rsg", "--weights", str(reference_networks[-1].weights_path)
    )
    assert code == 0 and json.loads(stdout)["task"] == "reproduction"


def test_evaluate_runs_as_a_process(reference_networks):
    ref = reference_networks[0]
    done = subprocess.run(
        [sys.executable, "-m", "atlas", "evaluate", "--task", ref.task, "--weights",
         str(ref.weights_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert json.loads(done.stdout.strip())["mse"] < 2e-4


class _Payload:
    """Pickles as a call to os.system: loading it unsafely would run the command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_evaluate_refuses_a_pickle_that_carries_code(tmp_path, capsys):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    torch.save({"rnn.weight_ih_l0": _Payload(f"touch {marker}")}, path)
    code, stdout, stderr = _run(capsys, "evaluate", "--task", "delayed", "--weights", str(path))
    assert code != 0 and stdout == "" and "not a safe PyTorch state dict" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not marker.exists()
    # The file really carries code: an unsafe load runs it.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_evaluate_rejects_a_network_of_the_wrong_shape(tmp_path, capsys):
    three_inputs = to_state_dict(RNNPopulation.initialise("gru", 8, [0], n_inputs=3), 0)
    torch.save(three_inputs, tmp_path / "three.pt")
    code, _, stderr = _run(
        capsys, "evaluate", "--task", "interval", "--weights", str(tmp_path / "three.pt")
    )
    assert code != 0 and "3 input(s)" in stderr and "'interval' has 2" in stderr
    broken = {**three_inputs, "fc.weight": torch.zeros(1, 5)}
    torch.save(broken, tmp_path / "broken.pt")
    code, _, stderr = _run(
        capsys, "evaluate", "--task", "interval", "--weights", str(tmp_path / "broken.pt")
    )
    assert code != 0 and "fc.weight" in stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--task", "no_such_task", "--weights", "x.pt"], "unknown task"),
        (["evaluate", "--task", "delayed", "--weights", "missing.pt"], "no such file"),
        (["evaluate", "--task", "delayed", "--weights", "garbage.pt"], "not a safe"),
        (["evaluate", "--task", "two_neuron", "--weights", "garbage.pt"], "not a plain numeric"),
        (["evaluate", "--task", "delayed", "--param", "delay_max=99", "--weights", "x.pt"],
         "bad task parameters"),
        (["train", "--task", "delayed", "--count", "1"], "--arch and a positive --units"),
        (["train", "--task", "delayed", "--arch", "gru", "--units", "4", "--count", "1",
          "--out", "full"], "not an empty folder"),
    ],
)  # fmt: skip
def test_bad_input_gives_one_clear_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.pt").write_bytes(b"this is not a state dict")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    code, stdout, stderr = _run(capsys, *argv)
    assert code == 2 and stdout == ""
    assert message in stderr and len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("option", "value"),
    [("--count", "0"), ("--units", "-4"), ("--max-epochs", "0"), ("--threads", "0")],
)
def test_train_refuses_numbers_out_of_range(capsys, option, value):
    """argparse refuses them (exit 2, the usage and one line naming the argument)."""
    argv = ["train", "--task", "interval", "--arch", "gru", "--units", "4", "--count", "1"]
    with pytest.raises(SystemExit) as exited:
        main([*argv, option, value])
    stderr = capsys.readouterr().err
    assert exited.value.code == 2 and "Traceback" not in stderr
    assert f"argument {option}: must be an integer in 1..2147483647, not {value}" in stderr
