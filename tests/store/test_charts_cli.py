"""`atlas chart` on the embedded store: a one-setting chart run in-process with its progress,
shown and listed, and command-line mistakes refused with a message."""

from __future__ import annotations

import pytest
from throwaway_databases import sqlite_url

from atlas.cli import main as atlas_main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

# Vanilla-8 networks on this shortened delayed task stay near a validation loss of 0.155 for
# these 30 epochs (tests/e2e/test_charts_worker.py): accepted below 0.2, and analysed in seconds.
SHORT_DELAYED = ["f_max=5", "delay_max=2", "f1_onset=2", "f2_onset=16", "response_onset=24",
                 "trial_length=32"]  # fmt: skip
TRAINING = ["max_epochs=30", "learning_rate=0.05", "batch_size=12", "checkpoint_every=0"]


def chart_run(url: str, *extra: str) -> int:
    arguments = ["chart", "run", "--task", "delayed", "--database-url", url]
    arguments += [item for p in SHORT_DELAYED for item in ("--param", p)]
    arguments += [item for t in TRAINING for item in ("--training", t)]
    return atlas_main([*arguments, *extra])


def test_chart_run_show_and_list(tmp_path, capsys):
    url = sqlite_url(tmp_path)
    plot = tmp_path / "shares.png"
    code = chart_run(url, "--setting", "vanilla:8", "--networks-per-setting", "1",
                     "--acceptance", "0.2", "--interval", "0.5", "--no-kappa",
                     "--plot", str(plot))  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "chart 1: delayed over 1 settings, 1 accepted networks each" in out
    assert "training   1" in out  # progress while its chunk trained
    assert "chart 1: delayed (variant p" in out and "succeeded" in out
    assert "seeds    1/3" in out and "accepted    1  failed    0  analysed    1" in out
    assert plot.read_bytes().startswith(b"\x89PNG")

    assert atlas_main(["chart", "show", "1", "--database-url", url, "--no-kappa"]) == 0
    shown = capsys.readouterr().out
    assert "vanilla 8    reached" in shown
    assert atlas_main(["chart", "list", "--database-url", url]) == 0
    assert "vanilla 8: 1/1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--setting", "gru8", "--networks-per-setting", "1"], "--setting expects ARCH:UNITS"),
        (["--setting", "rnn:8", "--networks-per-setting", "1"], "unknown architecture 'rnn'"),
    ],
)  # fmt: skip
def test_chart_run_refuses_mistakes(tmp_path, capsys, extra, message):
    assert chart_run(sqlite_url(tmp_path), *extra) == 2
    assert message in capsys.readouterr().err


def test_chart_show_of_a_missing_chart(tmp_path, capsys):
    url = sqlite_url(tmp_path)
    assert atlas_main(["migrate", "--database-url", url]) == 0
    assert atlas_main(["chart", "show", "7", "--database-url", url]) == 2
    assert "no chart with id 7" in capsys.readouterr().err
