"""Writing networks (trained and imported) with their checkpoints, and loading weights back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import atlas
from atlas.analysis_status import AnalysisStatus
from atlas.datasets import network_key
from atlas.errors import NotFoundError
from atlas.network_status import NetworkStatus, solves_task
from atlas.networks import RNNPopulation, from_state_dicts, infer_shape
from atlas.store.arrays import arrays_to_blob, state_dict_from_blob, to_blob
from atlas.store.jobs import count_saved_networks
from atlas.store.models import CheckpointRow, Job, Network
from atlas.store.task_records import ensure_task
from atlas.tasks import Task
from atlas.training import NetworkOutcome

CODE_VERSION = atlas.__version__


def trained_network(session: Session, job_id: int, index: int) -> Network | None:
    """The stored network `index` of a job, if it was saved already."""
    return session.scalars(
        select(Network).where(Network.job_id == job_id, Network.index_in_job == index)
    ).one_or_none()


def save_trained_network(session: Session, job: Job, outcome: NetworkOutcome) -> Network:
    """Store one trained network of `job` with its initial, intermediate and final weights.

    Its place in the job follows from its seed (job.network_seed), so a redelivered job that
    saves the same network again gets the row already there, never a second one.
    """
    index = outcome.seed - job.seed
    if not 0 <= index < job.count:
        raise ValueError(f"seed {outcome.seed} is not one of job {job.id}'s seeds")
    existing = trained_network(session, job.id, index)
    if existing is not None:
        return existing
    shape = infer_shape(outcome.final_state_dict)
    curve = np.asarray(outcome.loss_curve, dtype=np.float64)
    network = Network(
        task=job.task,
        task_parameters=job.task_parameters,
        architecture=shape.architecture,
        units=shape.units,
        n_inputs=shape.n_inputs,
        n_outputs=shape.n_outputs,
        source="trained",
        job_id=job.id,
        index_in_job=index,
        seed=outcome.seed,
        status=outcome.status,
        epochs=outcome.epochs,
        steps=outcome.steps,
        best_loss=float(outcome.best_loss),
        final_loss=float(curve[-1]) if curve.size else None,
        validation_loss=float(outcome.validation_loss),
        loss_curve=to_blob(curve),
        code_version=CODE_VERSION,
    )
    network.checkpoints = [
        _checkpoint("initial", 0, None, outcome.initial_state_dict),
        *(_checkpoint("intermediate", c.epoch, c.loss, c.state_dict) for c in outcome.checkpoints),
        _checkpoint("final", outcome.epochs, outcome.best_loss, outcome.final_state_dict),
    ]
    try:
        with session.begin_nested():
            session.add(network)
    except IntegrityError:
        existing = trained_network(session, job.id, index)
        if existing is None:
            raise
        return existing
    job.n_saved = count_saved_networks(session, job.id)
    return network


def save_job_network(session: Session, job_id: int, outcome: NetworkOutcome) -> int:
    """save_trained_network for a job known by its id; the network's id."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"no job with id {job_id}", slug="job-not-found")
    return save_trained_network(session, job, outcome).id


def lock_network(session: Session, network_id: int) -> None:
    """Hold the network's row until the transaction ends, so that two deliveries of one
    analysis step save one at a time (the second then finds the step done)."""
    session.get(Network, network_id, with_for_update=True)


def imported_content_key(task: Task, state_dict: Mapping[str, torch.Tensor]) -> str:
    """The content key of `state_dict` imported as a network of `task` (its name and
    parameters: the task variant): atlas.datasets.network_key, the key a dataset export
    gives the network, over each tensor's name, dtype, shape and bytes in name order."""
    arrays = {name: tensor.detach().cpu().numpy() for name, tensor in state_dict.items()}
    return network_key(task.name, task.parameters(), infer_shape(state_dict).architecture, arrays)


def imported_network_with_key(session: Session, content_key: str) -> Network | None:
    """The first imported network with this content key, if the atlas holds one."""
    return session.scalars(
        select(Network)
        .where(Network.content_key == content_key, Network.source == "imported")
        .order_by(Network.id)
        .limit(1)
    ).first()


def save_imported_network(
    session: Session,
    task: Task,
    state_dict: Mapping[str, torch.Tensor],
    validation_loss: float,
    *,
    name: str | None = None,
    info: dict[str, Any] | None = None,
) -> Network:
    """Store a network trained elsewhere, with its validation loss on `task` (computed by the
    caller from these weights). It counts as converged when that loss is below the training
    recipe's failure threshold, as a trained network would. It is stored with its content key
    (imported_content_key) but always as a new row: finding the network already imported
    (imported_network_with_key) is the caller's (atlas.store.uploads.import_network)."""
    shape = infer_shape(state_dict)
    if (shape.n_inputs, shape.n_outputs) != (task.n_inputs, task.n_outputs):
        raise ValueError(
            f"task {task.name!r} has {task.n_inputs} inputs and {task.n_outputs} outputs; "
            f"the network has {shape.n_inputs} and {shape.n_outputs}"
        )
    ensure_task(session, task)
    converged = solves_task(validation_loss)
    network = Network(
        task=task.name,
        task_parameters=task.parameters(),
        architecture=shape.architecture,
        units=shape.units,
        n_inputs=shape.n_inputs,
        n_outputs=shape.n_outputs,
        source="imported",
        name=name,
        info=info or {},
        status=NetworkStatus.CONVERGED if converged else NetworkStatus.FAILED,
        validation_loss=float(validation_loss),
        code_version=CODE_VERSION,
        content_key=imported_content_key(task, state_dict),
        checkpoints=[_checkpoint("final", 0, validation_loss, state_dict)],
    )
    session.add(network)
    session.flush()
    return network


def _checkpoint(
    kind: str, epoch: int, loss: float | None, state_dict: Mapping[str, torch.Tensor]
) -> CheckpointRow:
    return CheckpointRow(
        kind=kind,
        epoch=epoch,
        loss=None if loss is None else float(loss),
        weights=arrays_to_blob(state_dict),
    )


def network_state_dict(
    session: Session, network_id: int, kind: str = "final"
) -> dict[str, torch.Tensor]:
    """A stored network's weights as a standard PyTorch state dict (the latest of `kind`)."""
    checkpoint = session.scalars(
        select(CheckpointRow)
        .where(CheckpointRow.network_id == network_id, CheckpointRow.kind == kind)
        .order_by(CheckpointRow.epoch.desc())
        .limit(1)
    ).one_or_none()
    if checkpoint is None:
        message = f"network {network_id} has no {kind} checkpoint"
        raise NotFoundError(message, slug="checkpoint-not-found")
    return state_dict_from_blob(checkpoint.weights)


def load_population(
    session: Session, network_ids: Sequence[int], kind: str = "final"
) -> RNNPopulation:
    """Stored networks of one architecture and size as a population, in the order given."""
    return from_state_dicts([network_state_dict(session, i, kind) for i in network_ids])


def unanalysed_network_ids(session: Session) -> list[int]:
    """Networks whose analysis is pending or was cut off while running, oldest first."""
    return list(
        session.scalars(
            select(Network.id)
            .where(Network.analysis_status.in_((AnalysisStatus.PENDING, AnalysisStatus.RUNNING)))
            .order_by(Network.id)
        )
    )
