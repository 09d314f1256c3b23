"""Bad input to the `atlas` command: a clear message on stderr and a non-zero exit, never a
traceback, and nothing written (QA's reproductions, one test per kind of mistake)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from throwaway_databases import sqlite_url

from atlas.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HUGE = "99999999999999999999999"
SMALL_NET = ["--task", "delayed", "--arch", "vanilla", "--units", "4", "--count", "1"]


def _refused(capsys, *argv: str) -> str:
    """Run the command in this process; assert it failed without a traceback; its stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's refusals
        code = exc.code
    captured = capsys.readouterr()
    assert code not in (0, None), captured.out
    assert "Traceback" not in captured.out + captured.err
    return captured.err


@pytest.fixture
def atlas_url(tmp_path, capsys) -> str:
    """An empty migrated atlas."""
    url = sqlite_url(tmp_path)
    assert main(["migrate", "--database-url", url]) == 0
    capsys.readouterr()
    return url


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["chart", "show", HUGE], "argument ID: must be an integer in 1..2147483647"),
        (["chart", "show", "0"], "argument ID: must be an integer in 1..2147483647"),
        (["export", "--job", HUGE], "argument --job: must be an integer in 1..2147483647"),
        (["export", "--chart", HUGE], "argument --chart: must be an integer in 1..2147483647"),
        (["export", "--units", HUGE], "argument --units: must be an integer in 1..2147483647"),
        (["export", "--units", "ten"], "argument --units: must be an integer, not 'ten'"),
    ],
)  # fmt: skip
def test_ids_out_of_range_are_refused(tmp_path, capsys, atlas_url, argv, message):
    if argv[0] == "export":
        argv = [*argv, "--out", str(tmp_path / "out")]
    assert message in _refused(capsys, *argv, "--database-url", atlas_url)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", ["-1", HUGE])
@pytest.mark.parametrize("subject", [SMALL_NET, ["--task", "two_neuron", "--count", "1"]])
def test_train_refuses_seeds_out_of_range(tmp_path, capsys, subject, seed):
    out = tmp_path / "out"
    err = _refused(capsys, "train", *subject, "--seed", seed, "--out", str(out))
    assert "argument --seed: must be an integer in 0..2000000000" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("subject", "what"),
    [
        (["--task", "delayed", "--arch", "vanilla", "--units", "99999999", "--count", "99999"],
         "a population of 99999 vanilla networks of 99999999 units is refused"),
        (["--task", "two_neuron", "--count", "2000000000"],
         "a two-neuron study of 2000000000 networks is refused"),
    ],
)  # fmt: skip
def test_train_refuses_work_over_the_budget(tmp_path, capsys, subject, what):
    out = tmp_path / "out"
    err = _refused(capsys, "train", *subject, "--out", str(out))
    assert what in err and "over-budget" in err
    assert not out.exists()  # refused before anything is written


@pytest.mark.parametrize("starts", ["99999999999", "0"])
def test_fixed_points_bounds_the_starts(tmp_path, capsys, starts):
    err = _refused(capsys, "fixed-points", "--task", "delayed", "--weights",
                   str(tmp_path / "x.pt"), "--starts", starts)  # fmt: skip
    assert "argument --starts: must be an integer in 1..4096" in err


@pytest.mark.parametrize("action", ["check", "add"])
def test_task_declaration_that_is_not_text(tmp_path, capsys, atlas_url, action):
    binary = tmp_path / "task.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x80")
    extra = ["--database-url", atlas_url] if action == "add" else []
    err = _refused(capsys, "task", action, str(binary), *extra)
    assert f"{binary} is not a text file" in err


def test_types_of_an_unknown_variant(capsys, atlas_url):
    err = _refused(capsys, "types", "--task", "delayed", "--variant", "nope",
                   "--database-url", atlas_url)  # fmt: skip
    assert "task 'delayed' has no types under variant 'nope'" in err


@pytest.mark.parametrize("extra", [["--task", "reproduction"], ["--job", "2", "--units", "8"]])
def test_export_of_a_chart_refuses_filters(tmp_path, capsys, atlas_url, extra):
    out = tmp_path / "out"
    err = _refused(capsys, "export", "--out", str(out), "--chart", "1", *extra,
                   "--database-url", atlas_url)  # fmt: skip
    assert "--chart exports the chart's networks; it takes no filters" in err
    assert extra[0] in err
    assert not out.exists()


@pytest.mark.slow
def test_chart_run_that_fails_exits_non_zero(tmp_path, capsys):
    """One network that cannot be accepted (one epoch, an acceptance loss no network reaches):
    the chart ends failed, and so does the command."""
    err = _refused(
        capsys, "chart", "run", "--task", "delayed", "--param", "f_max=5", "--param",
        "delay_max=1", "--setting", "vanilla:4", "--networks-per-setting", "1",
        "--seed-budget", "1", "--acceptance", "1e-12", "--training", "max_epochs=1",
        "--training", "checkpoint_every=0", "--interval", "0.2", "--no-kappa",
        "--database-url", sqlite_url(tmp_path),
    )  # fmt: skip
    assert "atlas chart: error: chart 1 failed: 1 of 1 settings ended short" in err


def test_the_command_as_a_process_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "atlas", "chart", "show", HUGE, "--database-url",
         sqlite_url(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "must be an integer in 1..2147483647" in result.stderr
