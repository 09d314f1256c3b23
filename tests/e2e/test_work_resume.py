"""Resume: a training run restored from its snapshot ends exactly as an uninterrupted one,
through the store's blob and after a SIGKILL of the embedded server's process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import ROOT
from test_worker import (
    IN_FLIGHT_EPOCHS,
    IN_FLIGHT_POLL_S,
    assert_same_as_uninterrupted,
    job_state,
    snapshot_epoch,
    submit,
    wait_for,
)
from throwaway_databases import sqlite_url

from atlas.config import Settings
from atlas.store import (
    make_engine,
    migrate,
    session_factory,
    session_scope,
    study_weights,
)
from atlas.store.arrays import arrays_from_blob, arrays_to_blob
from atlas.store.models import TwoNeuronStudyRow
from atlas.store.models.two_neuron import TwoNeuronSnapshot
from atlas.store.two_neuron import create_two_neuron_study
from atlas.studies import TwoNeuronModel
from atlas.tasks import get_task
from atlas.training import (
    TrainingConfig,
    TwoNeuronTrainingConfig,
    train_population,
    train_two_neuron,
)
from atlas.training.snapshot import restore_training, take_snapshot
from worker import dispatch, two_neuron_study

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

SMALL_DELAYED = {"f_max": 5, "delay_max": 2}


def test_restored_run_ends_bit_identical():
    """Networks converging at different epochs (the active set shrinks before and after the
    snapshot), intermediate checkpoints and a second phase all continue exactly."""
    task = get_task("delayed", **SMALL_DELAYED)
    config = TrainingConfig(
        max_epochs=24, checkpoint_every=4, success_loss=0.0834, failure_loss=0.0834,
        stall_patience=3, plateau_patience=2, second_phase_loss=1.0,
    )  # fmt: skip
    seeds = [3, 4, 5, 6, 7, 8]
    snapshots = {}

    def keep(run) -> None:
        if run.epoch in (6, 12):
            snapshots[run.epoch] = arrays_from_blob(arrays_to_blob(take_snapshot(run)))

    whole = train_population(task, "gru", 8, seeds, config, on_epoch_end=keep)
    assert {o.epochs for o in whole} != {24}, "no network finished early"
    for epoch, arrays in snapshots.items():
        run = restore_training(task, "gru", 8, config, arrays)
        assert run.epoch == epoch
        rest = {o.index: o for o in train_population(task, "gru", 8, seeds, config, start=run)}
        for outcome in whole:
            if outcome.index not in rest:
                assert outcome.epochs <= epoch  # it had finished before the snapshot
                continue
            again = rest[outcome.index]
            assert (again.status, again.epochs) == (outcome.status, outcome.epochs)
            np.testing.assert_array_equal(again.loss_curve, outcome.loss_curve)
            for key, tensor in outcome.final_state_dict.items():
                assert torch.equal(again.final_state_dict[key], tensor)
            assert [c.epoch for c in again.checkpoints] == [c.epoch for c in outcome.checkpoints]
            for mine, theirs in zip(again.checkpoints, outcome.checkpoints, strict=True):
                for key, tensor in theirs.state_dict.items():
                    assert torch.equal(mine.state_dict[key], tensor)


EMBEDDED_SERVER = """
import sys, time, torch
torch.set_num_threads(1)
from atlas.config import Settings
from worker import dispatch
settings = Settings(database_url=sys.argv[1], broker_url=None, torch_threads=1, device="cpu")
dispatch.resume_unfinished(settings)
time.sleep(3600)
"""


def test_embedded_server_killed_mid_training_resumes_from_its_snapshot(
    tmp_path, caplog, monkeypatch
):
    settings = Settings(
        database_url=sqlite_url(tmp_path), broker_url=None, torch_threads=1, device="cpu"
    )
    migrate(settings.database_url)
    # Created in the database only: the server process below picks it up at its start.
    with monkeypatch.context() as patch:
        patch.setattr(dispatch, "enqueue_training", lambda *_args, **_kw: None)
        job_id = submit(settings, count=3, max_epochs=IN_FLIGHT_EPOCHS, seed=40, resume_every=10)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-c", EMBEDDED_SERVER, settings.database_url], cwd=ROOT, env=env
    )
    try:
        wait_for(
            lambda: snapshot_epoch(settings, job_id) >= 20,
            "a snapshot after epoch 20",
            every_s=IN_FLIGHT_POLL_S,
        )
        killed_after = job_state(settings, job_id)[0].epoch
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    job, networks = job_state(settings, job_id)
    assert job.status == "running" and len(networks) < job.count
    resumed_from = snapshot_epoch(settings, job_id)
    # At most one snapshot interval is trained again (the progress row lags a little).
    assert resumed_from % 10 == 0 and killed_after - resumed_from <= 10

    started = time.monotonic()
    caplog.set_level("INFO", logger="atlas.worker")
    try:
        assert dispatch.resume_unfinished(settings) >= 1
        wait_for(lambda: job_state(settings, job_id)[0].status == "succeeded", "the resumed job")
    finally:
        dispatch.shutdown()
    assert f"resuming from its snapshot after epoch {resumed_from}" in caplog.text
    job, _ = job_state(settings, job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert_same_as_uninterrupted(settings, job_id)
    print(f"resumed from epoch {resumed_from} in {time.monotonic() - started:.1f} s")


def test_study_stopped_mid_training_continues_from_its_snapshot(tmp_path, caplog, monkeypatch):
    """A two-neuron study interrupted by a shutdown resumes from its snapshot and ends with
    the W an uninterrupted run gives, bit for bit."""
    settings = Settings(database_url=sqlite_url(tmp_path), broker_url=None, torch_threads=1)
    migrate(settings.database_url)
    caplog.set_level("INFO", logger="atlas.worker")
    training = {"max_steps": 150}  # seconds of training: a shutdown lands mid-run
    monkeypatch.setattr(two_neuron_study, "STUDY_SNAPSHOT_EVERY", 3)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            study_id = create_two_neuron_study(session, 2, seed=5, training=training)[0].id

        def snapshot_step() -> int:
            with session_scope(session_factory(engine)) as session:
                row = session.get(TwoNeuronSnapshot, study_id)
                return -1 if row is None else row.step

        dispatch.enqueue_two_neuron_study(study_id, settings)
        wait_for(lambda: snapshot_step() >= 3, "a study snapshot")
        dispatch.shutdown()
        with session_scope(session_factory(engine)) as session:
            assert session.get(TwoNeuronStudyRow, study_id).status == "queued"
        resumed_from = snapshot_step()
        try:
            dispatch.resume_unfinished(settings)
            wait_for(
                lambda: (
                    f"study {study_id} succeeded" in caplog.text
                    or f"study {study_id} partially_succeeded" in caplog.text
                    or f"study {study_id} failed" in caplog.text
                ),
                "the resumed study",
            )
        finally:
            dispatch.shutdown()
        assert f"study {study_id}: resuming from its snapshot after step {resumed_from}" in (
            caplog.text
        )
        with session_scope(session_factory(engine)) as session:
            stored = study_weights(session, study_id)
            assert session.get(TwoNeuronSnapshot, study_id) is None
    finally:
        engine.dispose()
    whole = train_two_neuron(TwoNeuronModel(), range(5, 7), TwoNeuronTrainingConfig(**training))
    np.testing.assert_array_equal(stored.final_w, whole.final_w)
    np.testing.assert_array_equal(stored.initial_w, whole.initial_w)
