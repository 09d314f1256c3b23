"""`atlas chart from-runs`: populations trained outside the atlas (benchmarks/paper_settings.py
writes run folders) become a chart whose networks, seeds and counts read as if the atlas had
trained them; folders that do not make one chart are refused with nothing stored."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import torch
from sqlalchemy import select
from throwaway_databases import sqlite_url

from atlas.cli import main as atlas_main
from atlas.store import make_engine, session_factory, session_scope
from atlas.store.charts import chart_record
from atlas.store.models import Job, Network
from atlas.tasks import get_task
from atlas.training import TrainingConfig
from atlas.training.batched import PopulationTraining
from atlas.training.run_folder import read_population_run, record_session

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

# The shortened delayed task of tests/store/test_charts_cli.py: vanilla-8 networks end near a
# validation loss of 0.155 in 30 epochs, accepted below 0.2.
SHORT_DELAYED = {"f_max": 5, "delay_max": 2, "f1_onset": 2, "f2_onset": 16,
                 "response_onset": 24, "trial_length": 32}  # fmt: skip
CONFIG = TrainingConfig(max_epochs=30, learning_rate=0.05, batch_size=12, checkpoint_every=0)


def train_run(folder, seeds, stop_after_epochs=None, config=CONFIG):
    """Train like paper_settings.py does, in two sessions (the second resumes the snapshot
    that the first leaves), stopping early when asked."""
    task = get_task("delayed", **SHORT_DELAYED)
    run = PopulationTraining(task, "vanilla", 8, seeds, config)
    folder.mkdir(parents=True)
    for epochs in (10, (stop_after_epochs or config.max_epochs) - 10):
        started, finished = time.time(), []
        for _ in range(epochs):
            if len(run.active):
                finished += run.run_epoch()
        record_session(folder, task, run, finished, time.time() - started, epochs)
    return run


def test_run_folders_become_a_chart_that_reads_as_trained_here(tmp_path, capsys):
    train_run(tmp_path / "a", [0, 1, 2])
    summary = json.loads((tmp_path / "a" / "outcomes.json").read_text())
    assert len(summary["sessions"]) == 2 and summary["still_training"] == []
    url = sqlite_url(tmp_path)
    code = atlas_main(["chart", "from-runs", str(tmp_path / "a"), "--networks-per-setting", "2",
                       "--acceptance", "0.2", "--no-kappa", "--database-url", url])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "chart 1 (succeeded): 3 networks stored, 3 accepted" in out
    assert "3/3 analysed" in out
    assert "vanilla 8    reached" in out

    run = read_population_run(tmp_path / "a", n_trials=1)
    engine = make_engine(url)
    with session_scope(session_factory(engine)) as session:
        record = chart_record(session, 1)
        (setting,) = record.settings
        assert (setting.trained, setting.accepted, setting.analysed) == (3, 3, 3)
        networks = session.scalars(select(Network).order_by(Network.seed)).all()
        assert [n.seed for n in networks] == [0, 1, 2]
        assert [n.validation_loss for n in networks] == [o.validation_loss for o in run.outcomes]
        job = session.scalars(select(Job)).one()
        assert (job.seed, job.count, job.n_saved) == (0, 3, 3)
    engine.dispose()
    # The initial weights are the seeds' own: the trainer's, recomputed from the seeds.
    fresh = PopulationTraining(get_task("delayed", **SHORT_DELAYED), "vanilla", 8, [0, 1, 2],
                               CONFIG)  # fmt: skip
    assert all(torch.equal(fresh.initial[0][k], run.outcomes[0].initial_state_dict[k])
               for k in fresh.initial[0])  # fmt: skip


def test_a_run_folder_keeps_its_initialisation(tmp_path):
    """The initial weights read back are those the run drew, under its own initialisation."""
    unscaled = dataclasses.replace(CONFIG, initialisation="pytorch", max_epochs=12)
    trained = train_run(tmp_path / "a", [5, 6], config=unscaled)
    outcomes = read_population_run(tmp_path / "a", n_trials=1).outcomes
    scaled = PopulationTraining(get_task("delayed", **SHORT_DELAYED), "vanilla", 8, [5, 6], CONFIG)
    for k, outcome in enumerate(outcomes):
        for name, weights in outcome.initial_state_dict.items():
            assert torch.equal(weights, trained.initial[k][name])
            torch.testing.assert_close(weights, scaled.initial[k][name] * 8**0.5)


def test_a_stopped_run_counts_its_unfinished_seeds_and_foreign_seeds_are_refused(tmp_path, capsys):
    train_run(tmp_path / "stopped", [0, 1], stop_after_epochs=15)
    url = sqlite_url(tmp_path)
    code = atlas_main(["chart", "from-runs", str(tmp_path / "stopped"), "--networks-per-setting",
                       "1", "--no-analysis", "--no-kappa", "--database-url", url])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "chart 1 (failed): 0 networks stored, 0 accepted" in out

    train_run(tmp_path / "foreign", [5, 9])
    before = capsys.readouterr()
    code = atlas_main(["chart", "from-runs", str(tmp_path / "a"), "--networks-per-setting", "1",
                       "--database-url", url])  # fmt: skip
    assert code == 2 and "not a population run" in capsys.readouterr().err
    code = atlas_main(["chart", "from-runs", str(tmp_path / "foreign"), "--networks-per-setting",
                       "1", "--database-url", url])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, before
    assert "must train seeds 5.." in err and "nothing was stored" in err
    summary = json.loads((tmp_path / "foreign" / "outcomes.json").read_text())
    summary["networks"][0]["file"] = "../outcomes.json"
    (tmp_path / "foreign" / "outcomes.json").write_text(json.dumps(summary))
    code = atlas_main(["chart", "from-runs", str(tmp_path / "foreign"), "--networks-per-setting",
                       "1", "--database-url", url])  # fmt: skip
    assert code == 2 and "unreadable network entry" in capsys.readouterr().err
    engine = make_engine(url)
    with session_scope(session_factory(engine)) as session:
        assert len(session.scalars(select(Network)).all()) == 0
        assert len(session.scalars(select(Job)).all()) == 1  # the stopped run's chunk only
    engine.dispose()


def test_the_folders_of_one_population_split_across_processes_join_as_one_setting(tmp_path, capsys):
    """paper_settings.py POPULATION:2 trains seeds 0, 2 in one folder and 1, 3 in another."""
    train_run(tmp_path / "p0", [0, 2])
    train_run(tmp_path / "p1", [1, 3])
    url = sqlite_url(tmp_path)
    folders = [str(tmp_path / "p0"), str(tmp_path / "p1")]
    code = atlas_main(["chart", "from-runs", *folders, "--networks-per-setting", "3",
                       "--acceptance", "0.2", "--no-analysis", "--no-kappa",
                       "--database-url", url])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "chart 1 (succeeded): 4 networks stored, 4 accepted" in out
    parts = [read_population_run(tmp_path / p, n_trials=1) for p in ("p0", "p1")]
    losses = {o.seed: o.validation_loss for run in parts for o in run.outcomes}
    engine = make_engine(url)
    with session_scope(session_factory(engine)) as session:
        (setting,) = chart_record(session, 1).settings
        assert (setting.trained, setting.accepted) == (4, 4)
        job = session.scalars(select(Job)).one()
        assert (job.seed, job.count, job.n_saved) == (0, 4, 4)
        networks = session.scalars(select(Network).order_by(Network.seed)).all()
        assert {n.seed: n.validation_loss for n in networks} == losses
    engine.dispose()

    code = atlas_main(["chart", "from-runs", folders[0], folders[0], "--networks-per-setting",
                       "1", "--database-url", url])  # fmt: skip
    assert code == 2 and "share seeds" in capsys.readouterr().err
