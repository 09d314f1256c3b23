"""The two-neuron study as a job: train the population, classify each network's regime two
ways, draw the regime maps, all into the study's row.

Idempotent like the other tasks: the trained population is stored in one transaction, so a
redelivered study either finds it (and only classifies) or trains it, continuing from its
last snapshot (every STUDY_SNAPSHOT_EVERY steps) when it has one; the classification replaces
what a previous delivery wrote. The networks' weights depend on their seeds alone, and a run
restored from a snapshot continues exactly, so training again gives the same population.

A stopped study keeps the networks that had finished (those out of the batch: below the stop
loss), as jobs do: a cancelled or time-limited one has them classified and mapped; one queued
again stores the rest when its training ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from atlas.analysis.two_neuron_maps import regime_maps
from atlas.analysis.two_neuron_regimes import dynamic_regimes, eigenvalue_regimes
from atlas.store import (
    FINISHED,
    begin_study_attempt,
    fail_study,
    finish_study,
    load_snapshot,
    record_study_progress,
    save_regime_maps,
    save_snapshot,
    save_study_outcome,
    set_two_neuron_regimes,
    stop_study,
    study_setup,
    study_status,
    study_weights,
    two_neuron_regime_summary,
)
from atlas.studies import TwoNeuronModel
from atlas.training import TwoNeuronTrainingConfig, train_two_neuron
from atlas.training.snapshot import (
    SnapshotMismatchError,
    restore_two_neuron,
    take_two_neuron_snapshot,
)
from atlas.training.two_neuron import (
    TwoNeuronRun,
    first_two_neuron_run,
    two_neuron_outcome,
)
from atlas.wording import counted
from worker.database import transaction
from worker.leases import delivery_lease, heartbeat
from worker.tasks import MAX_ATTEMPTS
from worker.work import Pace, Stopped, Watch, finished_or_stopped, progress_writer

logger = logging.getLogger("atlas.worker")


def run_two_neuron_study(study_id: int, should_stop: Callable[[], bool] | None = None) -> None:
    """Train, classify and map study `study_id`; its status and progress are kept in SQL.

    A study delivered MAX_ATTEMPTS times without finishing is marked failed. After every
    training step it stops (worker.work.Watch) when `should_stop()` says so (queued again),
    when a client cancelled it, or at the time limit. It ends succeeded, partially succeeded
    (some networks did not reach the target) or failed (none did).
    """
    with transaction() as session:
        attempt = begin_study_attempt(session, study_id, MAX_ATTEMPTS, delivery_lease())
        if attempt is None:
            logger.info("study %d is %s: nothing to run", study_id, study_status(session, study_id))
            return
    watch = Watch(study_status, study_id, should_stop, attempt.run_seconds)
    with (
        heartbeat("study", study_id),
        finished_or_stopped(
            f"study {study_id}",
            stop=lambda session, stopped: stop_study(
                session, study_id, stopped.reason, stopped.detail
            ),
            fail=lambda session, error: fail_study(session, study_id, error),
        ) as ending,
    ):
        model, config = study_setup(attempt.task_parameters, attempt.training)
        if not attempt.trained:
            _train(study_id, model, config, list(attempt.seeds), watch)
        _classify(study_id, model, finish=True)
    if ending.reason is not None and _ended_with_networks(study_id):
        _classify(study_id, model, finish=False)


def _ended_with_networks(study_id: int) -> bool:
    """Whether the stop finished the study (cancelled, time limit) with networks kept: they
    are classified then; a study queued again classifies all of them when it ends."""
    with transaction() as session:
        stored = two_neuron_regime_summary(session, study_id)
    return stored.status in FINISHED and stored.n > 0


def _classify(study_id: int, model: TwoNeuronModel, *, finish: bool) -> None:
    """Classify the study's stored networks two ways and draw its regime maps, holding no
    transaction meanwhile; save them with the study's end when `finish` (a trained study),
    alone otherwise (the networks a stopped study kept)."""
    with transaction() as session:
        weights = study_weights(session, study_id)
    by_eigenvalues = eigenvalue_regimes(weights.final_w)
    by_dynamics = dynamic_regimes(weights.final_w, model).regimes
    maps = regime_maps(weights.initial_w, by_eigenvalues, weights.solved)
    with transaction() as session:
        set_two_neuron_regimes(session, study_id, by_eigenvalues, by_dynamics)
        save_regime_maps(session, study_id, maps)
        if finish:
            logger.info("study %d %s", study_id, finish_study(session, study_id))
        else:
            logger.info(
                "study %d: classified the %s it kept",
                study_id,
                counted(len(weights.solved), "network"),
            )


STUDY_SNAPSHOT_EVERY = 10
"""Steps between a study's snapshots: a step of 10,000 networks takes seconds, a snapshot of
them (about 2 MB) a small fraction of one."""


def _resumed(study_id: int, count: int) -> TwoNeuronRun | None:
    """The run the study's snapshot holds, or None to train from the initial W."""
    with transaction() as session:
        snapshot = load_snapshot(session, "study", study_id)
    if snapshot is None:
        return None
    try:
        run = restore_two_neuron(snapshot[1], count)
    except (SnapshotMismatchError, KeyError, ValueError) as exc:
        logger.warning("study %d: snapshot after step %d not used: %s", study_id, snapshot[0], exc)
        return None
    logger.info("study %d: resuming from its snapshot after step %d", study_id, snapshot[0])
    return run


def _snapshotter(study_id: int) -> Callable[[TwoNeuronRun], None]:
    def snapshot(run: TwoNeuronRun) -> None:
        if run.step % STUDY_SNAPSHOT_EVERY == 0 and len(run.active):
            arrays = take_two_neuron_snapshot(run)
            with transaction() as session:
                save_snapshot(session, "study", study_id, run.step, arrays)

    return snapshot


def _train(
    study_id: int,
    model: TwoNeuronModel,
    config: TwoNeuronTrainingConfig,
    seeds: list[int],
    watch: Watch,
) -> None:
    """Train the study's population, continuing from its snapshot when it has one, and store
    it in one transaction; a snapshot is kept every STUDY_SNAPSHOT_EVERY steps meanwhile.
    Stopped, it stores the networks that had finished first."""
    started = time.perf_counter()
    run = _resumed(study_id, len(seeds)) or first_two_neuron_run(model, seeds, config)
    try:
        outcome = train_two_neuron(
            model,
            seeds,
            config,
            start=run,
            on_step_end=_snapshotter(study_id),
            check=watch.check,
            on_progress=progress_writer(
                lambda session, progress, pace: record_study_progress(
                    session, study_id, progress, pace
                ),
                watch,
                Pace(len(seeds), watch),
                f"study {study_id}",
                unit="step",
            ),
        )
    except Stopped:
        # Keep the networks that had finished, as a job does; stop_study then counts them.
        with transaction() as session:
            save_study_outcome(session, study_id, two_neuron_outcome(model, seeds, run))
        raise
    with transaction() as session:
        save_study_outcome(session, study_id, outcome)
    logger.info(
        "study %d: %s trained in %.1f s, %d solved",
        study_id, counted(len(seeds), "network"), time.perf_counter() - started,
        int(outcome.solved.sum()),
    )  # fmt: skip
