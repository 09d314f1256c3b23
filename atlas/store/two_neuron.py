"""Writing two-neuron studies: the study request, the trained population, each network's
regimes and the study's regime maps.

A study is a job of its own: `create_two_neuron_study` writes it queued, a worker
(worker.two_neuron_study) trains and classifies it, recording its progress and outcome here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atlas.errors import InvalidError
from atlas.store.arrays import from_blob, to_blob
from atlas.store.database import get_or_raise
from atlas.store.lifecycle import (
    LOCKED,
    StopReason,
    held_elsewhere,
    mark_failed,
    mark_outcome,
    mark_stopped,
    record_pace,
    request_cancel,
    start_attempt,
    status_of,
)
from atlas.store.models import (
    DYNAMIC_REGIMES,
    TWO_NEURON_REGIMES,
    TwoNeuronMap,
    TwoNeuronNetwork,
    TwoNeuronStudyRow,
)
from atlas.store.networks import CODE_VERSION
from atlas.store.snapshots import delete_snapshot
from atlas.store.work_status import FINISHED, UNFINISHED, WorkStatus
from atlas.studies import TwoNeuronModel
from atlas.tasks import ParameterError
from atlas.training import TrainingProgress, TwoNeuronTrainingConfig

if TYPE_CHECKING:
    from atlas.training.two_neuron import TwoNeuronOutcome

DEFAULT_STUDY_SIZE = 10_000
"""The paper trained 10,000 two-neuron networks."""
MAX_STUDY_SIZE = 200_000


class StudySpecError(InvalidError):
    """A two-neuron study that cannot be run; the message says why."""

    slug = "invalid-study"


def study_setup(
    task_parameters: Mapping[str, Any], training: Mapping[str, Any]
) -> tuple[TwoNeuronModel, TwoNeuronTrainingConfig]:
    """The model and training config a study's stored parameters name (`task_parameters`,
    the column's name from when the model was filed as a task, overrides the model's)."""
    try:
        model = TwoNeuronModel().with_overrides(**task_parameters)
        config = TwoNeuronTrainingConfig(**training)
    except (ParameterError, TypeError, ValueError) as exc:
        raise StudySpecError(str(exc)) from exc
    return model, config


def _requested(
    count: int,
    seed: int,
    task_parameters: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    name: str | None,
) -> dict[str, Any]:
    """The stored columns a study request names, its options checked and filled in with the
    defaults (so that a replay compares like with like). Raises StudySpecError."""
    if not 1 <= count <= MAX_STUDY_SIZE:
        raise StudySpecError(f"count must be between 1 and {MAX_STUDY_SIZE}, got {count}")
    model, config = study_setup(task_parameters or {}, training or {})
    return {
        "name": name,
        "task_parameters": model.parameters(),
        "training_config": dataclasses.asdict(config),
        "count": count,
        "seed": seed,
    }


def create_two_neuron_study(
    session: Session,
    count: int = DEFAULT_STUDY_SIZE,
    *,
    seed: int = 0,
    task_parameters: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[TwoNeuronStudyRow, bool]:
    """A queued study of `count` networks seeded seed, seed + 1, ... and whether it was created
    now; commit it, then enqueue it (worker.dispatch.enqueue_two_neuron_study). Raises
    StudySpecError for bad options.

    With an idempotency key that already names a study, that study is returned unchanged
    (False); two concurrent requests with one key both get the same study (as jobs.create_job).
    """
    values = _requested(count, seed, task_parameters, training, name)
    if idempotency_key is not None:
        existing = _study_by_key(session, idempotency_key)
        if existing is not None:
            return existing, False
    study = TwoNeuronStudyRow(
        **values,
        idempotency_key=idempotency_key,
        status=WorkStatus.QUEUED,
        code_version=CODE_VERSION,
    )
    try:
        with session.begin_nested():
            session.add(study)
    except IntegrityError:
        existing = _study_by_key(session, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing, False
    return study, True


def same_study_request(
    study: TwoNeuronStudyRow,
    count: int,
    *,
    seed: int,
    task_parameters: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None,
    name: str | None,
) -> bool:
    """Whether `study`, found by an idempotency key, was created for this very request."""
    asked = _requested(count, seed, task_parameters, training, name)
    return all(getattr(study, column) == value for column, value in asked.items())


def _study_by_key(session: Session, key: str) -> TwoNeuronStudyRow | None:
    query = select(TwoNeuronStudyRow).where(TwoNeuronStudyRow.idempotency_key == key)
    return session.scalars(query).one_or_none()


def _study(session: Session, study_id: int, **options: Any) -> TwoNeuronStudyRow:
    return get_or_raise(session, TwoNeuronStudyRow, study_id, "study", "study-not-found", **options)


Change = Callable[[TwoNeuronStudyRow], Any]


def _change(session: Session, study_id: int, change: Change) -> TwoNeuronStudyRow:
    study = _study(session, study_id)
    change(study)
    session.flush()
    return study


def start_study_attempt(
    session: Session, study_id: int, max_attempts: int, lease: timedelta | None = None
) -> bool:
    """A delivery of the study begins (see atlas.store.lifecycle.start_attempt); one that
    ends it instead (cancelled, out of attempts) leaves its counts as the study's end does;
    one that finds it held by a live worker (lifecycle.held_elsewhere) leaves it as it is. The
    row is locked, as a job's is (jobs.start_job_attempt)."""
    study = _study(session, study_id, **LOCKED)
    if held_elsewhere(study, lease):
        return False
    started = start_attempt(study, max_attempts)
    if not started:
        _end(session, study, lambda _failed: None)
    session.flush()
    return started


@dataclass(frozen=True)
class StudyAttempt:
    """One delivery of a study as its worker begins it."""

    seeds: tuple[int, ...]
    task_parameters: dict[str, Any]
    training: dict[str, Any]
    run_seconds: float
    trained: bool
    """The whole population is stored already: the attempt only classifies and maps it (one
    stopped part-way, with some networks stored, trains again and stores the rest)."""


def begin_study_attempt(
    session: Session, study_id: int, max_attempts: int, lease: timedelta | None = None
) -> StudyAttempt | None:
    """Start a delivery of the study (start_study_attempt) and say what it does; None when
    there is nothing to do: the study has finished, was cancelled, gave up, or a live worker
    holds it (its heartbeat younger than `lease`)."""
    if not start_study_attempt(session, study_id, max_attempts, lease):
        return None
    study = _study(session, study_id)
    return StudyAttempt(
        seeds=tuple(range(study.seed, study.seed + study.count)),
        task_parameters=dict(study.task_parameters),
        training=dict(study.training_config),
        run_seconds=study.run_seconds,
        trained=stored_network_count(session, study_id) == study.count,
    )


def study_status(session: Session, study_id: int) -> WorkStatus | None:
    """The study's status as stored now (None: no such study): how a worker notices a cancel."""
    return status_of(session, TwoNeuronStudyRow, study_id)


def record_study_progress(
    session: Session,
    study_id: int,
    progress: TrainingProgress,
    pace: tuple[float, datetime | None, float] | None = None,
) -> None:
    """The study's counts after a training step (atlas.training.two_neuron.two_neuron_progress:
    `active` networks still training, `solved` those done below the solved loss; the others
    are done) and, when given, its pace (see atlas.store.jobs.record_progress)."""
    study = _study(session, study_id)
    study.progress = {
        "step": progress.epoch,
        "max_steps": progress.max_epochs,
        "active": progress.active,
        "solved": progress.converged,
    }
    if pace is not None:
        record_pace(study, *pace)
    session.flush()


def _stored_and_solved(session: Session, study_id: int) -> tuple[int, int]:
    """How many of the study's networks are stored, and how many of those are solved."""
    stored, solved = session.execute(
        select(func.count(), func.count().filter(TwoNeuronNetwork.solved.is_(True))).where(
            TwoNeuronNetwork.study_id == study_id
        )
    ).one()
    return stored or 0, solved or 0


def _end(session: Session, study: TwoNeuronStudyRow, end: Callable[[int], Any]) -> None:
    """End the study by `end(failed)` (failed: its networks not stored or not solved) and,
    when that finishes it, read its last counts from the networks stored, so that the
    progress agrees with its regimes: none `active` (finished work trains nothing, as a
    job), `finished` the stored networks, `solved` those of them that reached the target."""
    stored, solved = _stored_and_solved(session, study.id)
    end(study.count - solved)
    if study.status in FINISHED:
        study.progress = {
            **(study.progress or {}),
            "active": 0,
            "finished": stored,
            "solved": solved,
        }
        delete_snapshot(session, "study", study.id)
    session.flush()


def finish_study(session: Session, study_id: int) -> WorkStatus:
    """Classified and mapped: succeeded, partially succeeded (some networks did not reach the
    target) or failed (none did)."""
    study = _study(session, study_id)
    study.progress_fraction = 1.0
    _end(session, study, lambda failed: mark_outcome(study, study.count, failed))
    return WorkStatus(study.status)


def fail_study(session: Session, study_id: int, error: str) -> WorkStatus:
    delete_snapshot(session, "study", study_id)
    return WorkStatus(_change(session, study_id, lambda study: mark_failed(study, error)).status)


def stop_study(session: Session, study_id: int, reason: StopReason, detail: str = "") -> WorkStatus:
    """The worker stopped the study before its end (lifecycle.mark_stopped), after storing the
    networks that had finished (save_study_outcome): a cancelled or time-limited study keeps
    them, one queued again stores the rest when it ends."""
    study = _study(session, study_id)
    _end(session, study, lambda failed: mark_stopped(study, reason, study.count, failed, detail))
    return WorkStatus(study.status)


def request_study_cancel(session: Session, study_id: int) -> WorkStatus:
    """A client's cancel (lifecycle.request_cancel). Raises NotFoundError, AlreadyFinishedError."""
    study = _change(session, study_id, lambda row: request_cancel(row, f"study {study_id}"))
    if study.status in FINISHED:
        delete_snapshot(session, "study", study_id)
    return WorkStatus(study.status)


def unfinished_study_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(TwoNeuronStudyRow.id)
            .where(TwoNeuronStudyRow.status.in_(UNFINISHED))
            .order_by(TwoNeuronStudyRow.id)
        )
    )


def stored_network_count(session: Session, study_id: int) -> int:
    return session.scalar(select(func.count()).where(TwoNeuronNetwork.study_id == study_id)) or 0


def save_study_outcome(session: Session, study_id: int, outcome: TwoNeuronOutcome) -> None:
    """Store the trained networks of the outcome that the study does not hold yet, each at
    its place in the study (its seed less the study's): all of them when training ends, those
    that had finished when it was stopped. Networks stored before (a redelivered task, a
    study stopped earlier) keep their rows: training again gives the same ones. The snapshot
    goes once the whole population is stored."""
    study = _study(session, study_id)
    indices = np.asarray(outcome.seeds, dtype=np.int64) - study.seed
    if len(indices) and (indices.min() < 0 or indices.max() >= study.count):
        last = study.seed + study.count - 1
        raise ValueError(f"study {study_id} has the seeds {study.seed}..{last} only")
    stored = set(
        session.scalars(
            select(TwoNeuronNetwork.index_in_study).where(TwoNeuronNetwork.study_id == study_id)
        )
    )
    session.add_all(
        TwoNeuronNetwork(
            study_id=study.id,
            index_in_study=int(index),
            seed=int(outcome.seeds[k]),
            initial_w=to_blob(np.asarray(outcome.initial_w[k])),
            final_w=to_blob(np.asarray(outcome.final_w[k])),
            loss=float(outcome.loss[k]),
            solved=bool(outcome.solved[k]),
            loss_curve=to_blob(np.asarray(outcome.loss_curves[k])),
        )
        for k, index in enumerate(indices)
        if int(index) not in stored
    )
    session.flush()
    if stored_network_count(session, study_id) == study.count:
        delete_snapshot(session, "study", study_id)


@dataclass(frozen=True)
class StudyWeights:
    """A study's networks in study order: W before and after training (n, 2, 2), final loss
    and whether each reached the target."""

    initial_w: np.ndarray
    final_w: np.ndarray
    loss: np.ndarray
    solved: np.ndarray


def study_weights(session: Session, study_id: int) -> StudyWeights:
    rows = session.execute(
        select(
            TwoNeuronNetwork.initial_w,
            TwoNeuronNetwork.final_w,
            TwoNeuronNetwork.loss,
            TwoNeuronNetwork.solved,
        )
        .where(TwoNeuronNetwork.study_id == study_id)
        .order_by(TwoNeuronNetwork.index_in_study)
    ).all()
    if not rows:
        raise LookupError(f"study {study_id} has no trained networks stored")
    return StudyWeights(
        initial_w=np.stack([from_blob(r.initial_w) for r in rows]),
        final_w=np.stack([from_blob(r.final_w) for r in rows]),
        loss=np.array([r.loss for r in rows]),
        solved=np.array([r.solved for r in rows], dtype=bool),
    )


def _check_labels(labels: Sequence[str], known: Sequence[str], count: int, study_id: int) -> None:
    if len(labels) != count:
        raise ValueError(f"study {study_id} has {count} networks, got {len(labels)} regimes")
    unknown = sorted(set(labels) - set(known))
    if unknown:
        raise ValueError(f"unknown regimes {unknown}; known: {tuple(known)}")


def set_two_neuron_regimes(
    session: Session,
    study_id: int,
    regimes: Sequence[str],
    dynamic: Sequence[str] | None = None,
) -> None:
    """Record each network's regime by the eigenvalue rule and, when given, the one read from
    its dynamics, in study order (an analysis result; setting again replaces)."""
    networks = list(
        session.scalars(
            select(TwoNeuronNetwork)
            .where(TwoNeuronNetwork.study_id == study_id)
            .order_by(TwoNeuronNetwork.index_in_study)
        )
    )
    _check_labels(regimes, TWO_NEURON_REGIMES, len(networks), study_id)
    if dynamic is not None:
        _check_labels(dynamic, DYNAMIC_REGIMES, len(networks), study_id)
    for k, network in enumerate(networks):
        network.regime = str(regimes[k])
        if dynamic is not None:
            network.dynamic_regime = str(dynamic[k])
    session.flush()


def save_regime_maps(session: Session, study_id: int, maps: Mapping[str, bytes]) -> None:
    """The study's regime maps (PNG bytes by name), replacing those stored before."""
    _study(session, study_id)
    session.execute(delete(TwoNeuronMap).where(TwoNeuronMap.study_id == study_id))
    session.add_all(TwoNeuronMap(study_id=study_id, name=n, png=png) for n, png in maps.items())
    session.flush()
