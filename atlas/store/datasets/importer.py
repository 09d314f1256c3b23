"""A dataset (atlas.datasets) into the atlas without retraining, checked as /solutions/import
checks an upload, in the caller's one transaction.

Everything is checked before anything is written: each network's task and parameters are
known, its weight files are float32 state dicts of its architecture and size, its content key
is its own, and its weights reproduce its recorded validation loss; its analyses are rebuilt
and checked (atlas.store.datasets.analyses). Then the networks, their checkpoints, analyses and
analysis records are written through the store's own writers, and each typed network gets its
type from its compact graph (assign_solution_type), so types are the atlas' own.

A network already in the atlas (same content key) is not written again, nor checked beyond its
weights and key: importing a dataset twice changes nothing and the second time is quick.
On any error a DatasetError names the problem; the caller rolls back.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas.analysis_status import ANALYSIS_STATUSES, FINISHED_RUNS, AnalysisStatus, RunStatus
from atlas.datasets import Dataset, DatasetError, Limits, network_key
from atlas.datasets.layout import ANALYSES_FILE, CHART_FILE, NETWORKS_FOLDER, TRAINING_FILE
from atlas.networks import ARCHITECTURES, StateDictError, from_state_dicts, infer_shape
from atlas.store.arrays import arrays_from_blob, arrays_to_blob, to_blob
from atlas.store.datasets.analyses import (
    DATASET_STEPS,
    NetworkContext,
    Saver,
    extrapolation_saver,
    features_saver,
    fixed_points_saver,
    graph_saver,
    limit_cycles_saver,
    validation_saver,
)
from atlas.store.datasets.charts import check_chart, recreate_chart
from atlas.store.models import (
    CHECKPOINT_KINDS,
    NETWORK_STATUSES,
    AnalysisRun,
    CheckpointRow,
    Network,
)
from atlas.store.models.base import utcnow
from atlas.store.networks import CODE_VERSION, imported_network_with_key
from atlas.store.solution_types import assign_solution_type, lock_task
from atlas.store.task_records import ensure_task, resolve_task
from atlas.tasks import TrialTask, UnknownTaskError

# A recomputed validation loss against the recorded one (the analysis' validation step uses
# the same tolerance): float32 summation order differs between batch sizes and machines.
LOSS_RTOL, LOSS_ATOL = 1e-3, 1e-8
NETWORKS_PER_EVALUATION = 16
DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ImportReport:
    """What an import did: the dataset's networks by atlas id (new ones and ones already
    there), the types they are in, and the new networks whose analysis is incomplete (the
    caller queues them)."""

    title: str
    networks: int
    created: list[int]
    existing: list[int]
    types: dict[str, int]
    to_analyse: list[int]
    ids: dict[str, int] = field(default_factory=dict)
    chart_id: int | None = None


@dataclass
class _Network:
    """One dataset network, checked, ready to write."""

    row: dict[str, Any]
    task: TrialTask
    final: dict[str, torch.Tensor]
    checkpoints: list[tuple[dict[str, Any], dict[str, np.ndarray]]]
    loss_curve: np.ndarray | None
    trial_errors: np.ndarray | None = None
    savers: list[tuple[str, dict[str, Any], Saver | None]] = field(default_factory=list)
    compact: dict[str, Any] | None = None


def _fail(key: str, message: str) -> DatasetError:
    return DatasetError(f"network {key}: {message}")


def _task(session: Session, row: dict[str, Any]) -> TrialTask:
    """The row's task: a built-in one, or a user's whose declaration this atlas stores."""
    try:
        task = resolve_task(session, row["task"], **row["task_parameters"])
    except (UnknownTaskError, TypeError, ValueError) as exc:
        raise _fail(row["network"], f"task {row['task']!r} with its parameters: {exc}") from exc
    return task


def _weights(dataset: Dataset, key: str, path: str) -> dict[str, torch.Tensor]:
    arrays = dataset.tensors(path)
    if any(array.dtype != np.float32 for array in arrays.values()):
        raise _fail(key, f"{path} must hold float32 tensors")
    state_dict = {name: torch.from_numpy(array.copy()) for name, array in arrays.items()}
    try:
        infer_shape(state_dict)
    except StateDictError as exc:
        raise _fail(key, f"{path}: {exc}") from exc
    return state_dict


def _checked_network(session: Session, dataset: Dataset, row: dict[str, Any]) -> _Network:
    key = row["network"]
    if not key.isalnum():
        raise _fail(key, "ids are letters and digits")
    task = _task(session, row)
    if row["architecture"] not in ARCHITECTURES:
        raise _fail(key, f"unknown architecture {row['architecture']!r}")
    if row["status"] not in NETWORK_STATUSES or row["analysis_status"] not in ANALYSIS_STATUSES:
        raise _fail(key, f"unknown status {row['status']!r} or {row['analysis_status']!r}")
    folder = f"{NETWORKS_FOLDER}/{key}/"
    checkpoints, final = [], None
    for entry in row["checkpoints"]:
        if not isinstance(entry, dict) or entry.get("kind") not in CHECKPOINT_KINDS:
            raise _fail(key, f"a checkpoint entry is not {{kind, epoch, loss, file}}: {entry!r}")
        path, epoch, loss = entry.get("file"), entry.get("epoch"), entry.get("loss")
        if not isinstance(path, str) or not path.startswith(folder):
            raise _fail(key, f"checkpoint file {path!r} is not in {folder}")
        if not isinstance(epoch, int) or not (loss is None or isinstance(loss, int | float)):
            raise _fail(key, f"checkpoint {path} needs an integer epoch and a numeric loss")
        weights = _weights(dataset, key, path)
        checkpoints.append((entry, {k: v.numpy() for k, v in weights.items()}))
        if entry["kind"] == "final":
            final = weights
    if final is None or sum(e["kind"] == "final" for e, _ in checkpoints) != 1:
        raise _fail(key, "needs exactly one final checkpoint")
    shape = infer_shape(final)
    recorded = (row["architecture"], row["units"], row["n_inputs"], row["n_outputs"])
    if recorded != (shape.architecture, shape.units, shape.n_inputs, shape.n_outputs):
        raise _fail(key, f"weights are a {shape}, the record says {recorded}")
    if (shape.n_inputs, shape.n_outputs) != (task.n_inputs, task.n_outputs):
        raise _fail(key, f"task {task.name!r} has other inputs or outputs than the network")
    if any(infer_shape({k: torch.from_numpy(v) for k, v in w.items()}) != shape
           for _, w in checkpoints):  # fmt: skip
        raise _fail(key, "its checkpoints are not all of one shape")
    arrays = {k: v.numpy() for k, v in final.items()}
    if network_key(task.name, row["task_parameters"], shape.architecture, arrays) != row["key"]:
        raise _fail(key, "its content key is not its weights' (edited weights or records?)")
    curve = None
    training = f"{folder}{TRAINING_FILE}"
    if training in dataset.files:
        curve = dataset.tensors(training).get("loss_curve")
        if curve is None or curve.ndim != 1 or curve.dtype.kind != "f":
            raise _fail(key, f"{training} needs a one-dimensional float loss_curve")
    return _Network(row, task, final, checkpoints, curve)


def _evaluate(networks: list[_Network]) -> None:
    """Each network's per-trial validation errors from its weights (batched per setting), and
    its recorded validation loss checked against their mean."""
    groups: dict[tuple, list[_Network]] = defaultdict(list)
    for net in networks:
        setting = (net.task.name, json.dumps(net.row["task_parameters"], sort_keys=True))
        groups[(*setting, net.row["architecture"], net.row["units"])].append(net)
    for members in groups.values():
        trials = members[0].task.validation_set()
        for start in range(0, len(members), NETWORKS_PER_EVALUATION):
            chunk = members[start : start + NETWORKS_PER_EVALUATION]
            with torch.no_grad():
                outputs = from_state_dicts([n.final for n in chunk])(trials.inputs).outputs
                errors = (outputs - trials.targets).pow(2).mean(dim=(2, 3)).double().numpy()
            for net, trial_errors in zip(chunk, errors, strict=True):
                net.trial_errors = trial_errors
                loss, recorded = float(trial_errors.mean()), net.row["validation_loss"]
                if recorded is not None and not math.isclose(
                    loss, recorded, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL
                ):
                    raise _fail(
                        net.row["network"],
                        f"its weights give validation loss {loss:.6g}, it records {recorded:.6g}",
                    )


def _plan_analyses(dataset: Dataset, net: _Network, rows: dict[str, list[dict[str, Any]]]) -> None:
    """The network's analysis steps as savers, every one checked now (nothing is written)."""
    key = net.row["network"]
    path = f"{NETWORKS_FOLDER}/{key}/{ANALYSES_FILE}"
    arrays = dataset.tensors(path) if path in dataset.files else {}
    context = NetworkContext(key, net.task, from_state_dicts([net.final]), rows, arrays)
    runs = {run["step"]: run for run in rows.get("analysis_runs", [])}
    if len(runs) != len(rows.get("analysis_runs", [])):
        raise _fail(key, "an analysis step is listed twice")
    builders: dict[str, Callable[[dict[str, Any]], Saver | None]] = {
        "validation": lambda _run: validation_saver(context, net.trial_errors),
        "fixed_points": lambda run: fixed_points_saver(context, run["summary"]),
        "limit_cycles": lambda run: limit_cycles_saver(context, run["summary"]),
        "extrapolation": lambda _run: extrapolation_saver(context),
        "graph": lambda _run: _graph(net, context),
        "solution_type": lambda _run: None,  # assigned from the graph, in this atlas
        "features": lambda _run: features_saver(context),
    }
    for step in DATASET_STEPS:
        run = runs.get(step)
        if run is None:
            break  # later steps may build on this one: the worker computes the rest
        if run["status"] not in FINISHED_RUNS:
            raise _fail(key, f"step {step} has status {run['status']!r}")
        if step == "solution_type" and run["status"] == RunStatus.SUCCEEDED and net.compact is None:
            raise _fail(key, "it is typed but has no graph")
        saver = builders[step](run) if run["status"] == RunStatus.SUCCEEDED else None
        net.savers.append((step, run, saver))
        if run["status"] == RunStatus.FAILED:
            break


def _graph(net: _Network, context: NetworkContext) -> Saver:
    saver, net.compact = graph_saver(context)
    return saver


def _existing(session: Session, net: _Network) -> int | None:
    """The atlas' network with this one's content key, if there is one: an imported network
    that stores the key, else one whose final weights give it (a trained network exported and
    imported back)."""
    row = net.row
    stored = imported_network_with_key(session, row["key"])
    if stored is not None:
        return stored.id
    candidates = session.scalars(
        select(Network).where(
            Network.task == row["task"],
            Network.architecture == row["architecture"],
            Network.units == row["units"],
            Network.validation_loss == row["validation_loss"],
        )
    ).all()
    for candidate in candidates:
        final = [c for c in candidate.checkpoints if c.kind == "final"]
        if final and candidate.task_parameters == row["task_parameters"]:
            weights = arrays_from_blob(final[-1].weights)
            if network_key(candidate.task, candidate.task_parameters, candidate.architecture,
                           weights) == row["key"]:  # fmt: skip
                return candidate.id
    return None


def _write_network(session: Session, net: _Network, title: str) -> Network:
    row = net.row
    ensure_task(session, net.task)
    network = Network(
        task=net.task.name,
        task_parameters=row["task_parameters"],
        architecture=row["architecture"],
        units=row["units"],
        n_inputs=row["n_inputs"],
        n_outputs=row["n_outputs"],
        source="imported",
        name=row["name"],
        info={
            **row["info"],
            "dataset": {
                "title": title,
                "key": row["key"],
                "source": row["source"],
                "origin": row["origin"],
            },
        },
        seed=row["seed"],
        status=row["status"],
        epochs=row["epochs"],
        steps=row["steps"],
        best_loss=row["best_loss"],
        final_loss=row["final_loss"],
        validation_loss=(
            row["validation_loss"]
            if row["validation_loss"] is not None
            else float(net.trial_errors.mean())
        ),
        loss_curve=None if net.loss_curve is None else to_blob(net.loss_curve),
        code_version=row["code_version"][:64] or CODE_VERSION,
        content_key=row["key"],
        analysis_status=AnalysisStatus.PENDING,
        checkpoints=[
            CheckpointRow(
                kind=e["kind"], epoch=e["epoch"], loss=e["loss"], weights=arrays_to_blob(weights)
            )
            for e, weights in net.checkpoints
        ],
    )
    session.add(network)
    session.flush()
    return network


def agrees(written: Any, recorded: Any) -> bool:
    """Whether everything in `written` (a summary as the writer returns it) is in `recorded`
    with the same value; `recorded` may hold more."""
    if isinstance(written, dict):
        return isinstance(recorded, dict) and all(
            key in recorded and agrees(value, recorded[key]) for key, value in written.items()
        )
    if isinstance(written, list):
        return (
            isinstance(recorded, list)
            and len(written) == len(recorded)
            and all(agrees(w, r) for w, r in zip(written, recorded, strict=True))
        )
    if isinstance(written, float) and isinstance(recorded, int | float):
        return math.isclose(written, recorded, rel_tol=1e-12, abs_tol=0.0)
    return written == recorded


def _write_analyses(session: Session, net: _Network, network_id: int) -> bool:
    """Save the planned steps with their run records; True when every step is recorded."""
    for step, run, saver in net.savers:
        summary, status = run["summary"], run["status"]
        if step == "solution_type" and status == RunStatus.SUCCEEDED:
            assigned = assign_solution_type(session, network_id, net.compact)
            summary = {"type": assigned.name, "type_id": assigned.id}
        elif saver is not None:
            written = saver(session, network_id)
            if not agrees(written, summary):
                raise DatasetError(
                    f"network {net.row['network']}: its {step} record is not what its rows give"
                )
            # The recorded summary is kept: it may hold what rows cannot tell (how a search
            # covered the state space), and what they can tell it agrees with.
        now = utcnow()
        session.add(
            AnalysisRun(network_id=network_id, step=step, status=status,
                        attempts=max(1, run["attempts"]), error=run["error"], started_at=now,
                        finished_at=now, summary=summary, duration_s=run["duration_s"])
        )  # fmt: skip
    statuses = [run["status"] for _, run, _ in net.savers]
    network = session.get(Network, network_id)
    if RunStatus.FAILED in statuses:
        network.analysis_status = AnalysisStatus.FAILED
    elif len(statuses) == len(DATASET_STEPS):
        network.analysis_status = AnalysisStatus.DONE
    session.flush()
    return network.analysis_status != AnalysisStatus.PENDING


def import_dataset(
    session: Session, dataset: Dataset, limits: Limits = DEFAULT_LIMITS
) -> ImportReport:
    """Check the whole dataset, then write its new networks with their analyses and types.
    Flushes, never commits: the caller commits, or rolls back on a DatasetError. `limits`
    bound the checking work (networks, units per network) a dataset may ask for."""
    title = str(dataset.description.get("title", "dataset"))
    rows_by_network: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for table, rows in dataset.tables.items():
        if table in ("networks", "types"):
            continue
        for row in rows:
            rows_by_network[row["network"]][table].append(row)
    records = dataset.tables["networks"]
    if len(records) > limits.max_networks:
        raise DatasetError(f"{len(records)} networks; at most {limits.max_networks} per import")
    too_large = [row["network"] for row in records
                 if limits.max_units is not None and row["units"] > limits.max_units]  # fmt: skip
    if too_large:
        raise DatasetError(f"networks {too_large[:5]} have more than {limits.max_units} units")
    keys = [row["network"] for row in records]
    if len(set(keys)) != len(keys) or len({row["key"] for row in records}) != len(keys):
        raise DatasetError("networks.json lists a network twice")
    unknown = sorted(set(rows_by_network) - set(keys))
    if unknown:
        raise DatasetError(f"analyses of networks that networks.json does not list: {unknown[:5]}")
    try:
        networks = [_checked_network(session, dataset, row) for row in records]
        # One import at a time per task (the lock types are assigned under), so two imports
        # of one dataset cannot both find its networks missing and write them twice.
        for task in {net.task.name: net.task for net in networks}.values():
            ensure_task(session, task)
            lock_task(session, task.name)
        found = {net.row["network"]: _existing(session, net) for net in networks}
        # Networks already here are not written again, so only the new ones need checking
        # further: a dataset imported before (bash scripts/run at every start) costs little.
        fresh = [net for net in networks if found[net.row["network"]] is None]
        _evaluate(fresh)
        for net in fresh:
            _plan_analyses(dataset, net, rows_by_network[net.row["network"]])
        chart = dataset.document(CHART_FILE)
        if chart is not None:
            check_chart(chart, {row["network"]: row for row in records})
    except DatasetError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        # Values of the right JSON type in the wrong shape (a list of strings where inputs
        # belong, ...): the dataset's fault, named as such rather than a crash.
        raise DatasetError(f"malformed dataset: {exc!r}") from exc
    created, existing, to_analyse, ids = [], [], [], {}
    for net in networks:
        if found[net.row["network"]] is not None:
            existing.append(found[net.row["network"]])
            ids[net.row["network"]] = found[net.row["network"]]
            continue
        network = _write_network(session, net, title)
        ids[net.row["network"]] = network.id
        created.append(network.id)
        if not _write_analyses(session, net, network.id):
            to_analyse.append(network.id)
    types: dict[str, int] = defaultdict(int)
    for network_id in ids.values():
        network = session.get(Network, network_id)
        if network.solution_type is not None:
            types[network.solution_type.name] += 1
    chart_id = None if chart is None else recreate_chart(session, chart, ids)
    return ImportReport(
        title, len(networks), created, existing, dict(types), to_analyse, ids, chart_id
    )
