"""Networks of the atlas as a dataset (atlas.datasets): weights, training records, analyses
and types, selected by the /solutions filters or as a chart's networks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

import atlas
from atlas.datasets import dataset_files, network_key
from atlas.datasets.layout import (
    ANALYSES_FILE,
    CHART_FILE,
    CHECKPOINTS_FOLDER,
    FINAL_WEIGHTS,
    INITIAL_WEIGHTS,
    NETWORKS_FOLDER,
    TRAINING_FILE,
)
from atlas.store.analyses import json_number
from atlas.store.arrays import arrays_from_blob, from_blob
from atlas.store.datasets.analyses import export_analyses
from atlas.store.models import CheckpointRow, Network, SolutionType
from atlas.store.queries import SolutionFilters
from atlas.store.task_records import resolve_task
from atlas.tasks import variant_key


def selected_network_ids(session: Session, filters: SolutionFilters) -> list[int]:
    """The ids of the networks a /solutions query with these filters lists, in id order."""
    query = (
        select(Network.id)
        .outerjoin(SolutionType, Network.solution_type_id == SolutionType.id)
        .where(*filters.conditions())
        .order_by(Network.id)
    )
    return list(session.scalars(query))


def _weights(checkpoint: CheckpointRow) -> dict[str, np.ndarray]:
    """A checkpoint's state dict as float32 arrays (the atlas trains and stores float32)."""
    return {k: v.astype(np.float32) for k, v in arrays_from_blob(checkpoint.weights).items()}


def _checkpoint_file(checkpoint: CheckpointRow) -> str:
    if checkpoint.kind == "initial":
        return INITIAL_WEIGHTS
    if checkpoint.kind == "final":
        return FINAL_WEIGHTS
    return f"{CHECKPOINTS_FOLDER}/epoch_{checkpoint.epoch:06d}.safetensors"


def export_dataset(
    session: Session,
    network_ids: Sequence[int],
    *,
    title: str,
    selection: dict[str, Any],
    checkpoints: bool = False,
    jacobians: bool = False,
    chart: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """The dataset of these networks as {path: bytes}: initial and final weights (and the
    intermediate checkpoints with `checkpoints`), loss curves, analyses (the fixed points'
    Jacobians with `jacobians`; else they are recomputed on import) and types; with `chart`
    (atlas.store.datasets.charts.chart_export), the chart's chart.json."""
    tables: dict[str, list[dict[str, Any]]] = {"networks": [], "types": []}
    tensors: dict[str, dict[str, np.ndarray]] = {}
    types: dict[int, dict[str, Any]] = {}
    for number, network_id in enumerate(network_ids, start=1):
        network = session.get(Network, network_id)
        if network is None:
            raise LookupError(f"no network {network_id}")
        key = f"n{number:04d}"  # the same numbering names a chart's members below
        folder = f"{NETWORKS_FOLDER}/{key}"
        stored = [c for c in network.checkpoints if checkpoints or c.kind != "intermediate"]
        finals = [c for c in stored if c.kind == "final"]
        if not finals:
            raise LookupError(f"network {network_id} has no final weights")
        final = _weights(finals[-1])
        listed = []
        for checkpoint in stored:
            if checkpoint.kind == "final" and checkpoint is not finals[-1]:
                continue
            path = f"{folder}/{_checkpoint_file(checkpoint)}"
            tensors[path] = final if checkpoint is finals[-1] else _weights(checkpoint)
            listed.append({"kind": checkpoint.kind, "epoch": checkpoint.epoch,
                           "loss": _number(checkpoint.loss), "file": path})  # fmt: skip
        if network.loss_curve is not None:
            tensors[f"{folder}/{TRAINING_FILE}"] = {"loss_curve": from_blob(network.loss_curve)}
        analyses = export_analyses(session, network, key, jacobians)
        for table, rows in analyses.rows.items():
            tables.setdefault(table, []).extend(rows)
        if analyses.arrays:
            tensors[f"{folder}/{ANALYSES_FILE}"] = analyses.arrays
        solution_type = network.solution_type
        if solution_type is not None:
            entry = types.setdefault(solution_type.id, _type_row(solution_type))
            entry["members"] += 1
        task = resolve_task(session, network.task, **network.task_parameters)  # a user's too
        tables["networks"].append(_network_row(network, variant_key(task), key, final, listed))
    tables["types"] = sorted(types.values(), key=lambda t: (t["task"], t["variant"], t["name"]))
    description = {
        "title": title,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "atlas_version": atlas.__version__,
        "selection": selection,
        "options": {"checkpoints": checkpoints, "jacobians": jacobians},
        "counts": {"networks": len(tables["networks"]), "types": len(tables["types"])},
    }
    documents = None
    if chart is not None:  # its members by atlas id become members by dataset id
        keys = {network_id: f"n{number:04d}" for number, network_id in enumerate(network_ids, 1)}
        members = {keys[network_id]: position for network_id, position in chart["members"].items()}
        documents = {CHART_FILE: {**chart, "members": members}}
    return dataset_files(description, tables, tensors, documents)


def _number(value: float | None) -> float | None:
    return None if value is None else json_number(value)


def _type_row(solution_type: SolutionType) -> dict[str, Any]:
    return {
        "name": solution_type.name,
        "task": solution_type.task,
        "variant": solution_type.variant,
        "task_parameters": solution_type.task_parameters,
        "canonical_hash": solution_type.canonical_hash,
        "graph": solution_type.graph,
        "members": 0,
    }


def _network_row(
    network: Network,
    variant: str,
    key: str,
    final: dict[str, np.ndarray],
    checkpoints: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "network": key,
        "key": network_key(network.task, network.task_parameters, network.architecture, final),
        "task": network.task,
        "task_parameters": network.task_parameters,
        "variant": variant,
        "architecture": network.architecture,
        "units": network.units,
        "n_inputs": network.n_inputs,
        "n_outputs": network.n_outputs,
        "source": network.source,
        "name": network.name,
        "seed": network.seed,
        "status": network.status,
        "epochs": network.epochs,
        "steps": network.steps,
        "best_loss": _number(network.best_loss),
        "final_loss": _number(network.final_loss),
        "validation_loss": _number(network.validation_loss),
        "analysis_status": network.analysis_status,
        "solution_type": network.solution_type.name if network.solution_type else None,
        "code_version": network.code_version,
        "origin": {
            "network_id": network.id,
            "job_id": network.job_id,
            "index_in_job": network.index_in_job,
            "created_at": network.created_at.isoformat() if network.created_at else None,
        },
        "info": network.info or {},
        "checkpoints": checkpoints,
    }
