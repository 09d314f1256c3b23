"""A chart in a dataset (chart.json) and back: its definition, its settings' counts where it
was charted, and which of the dataset's networks belong to which setting.

On import the chart is re-created from its definition over the imported networks
(atlas.store.charts: create_chart, attach_networks per setting, complete_chart), under an
idempotency key derived from chart.json, so importing the dataset twice makes one chart.

A dataset carries the chart's accepted networks only, so each setting's progress where it was
charted (seeds used, networks trained; failed = trained - accepted) comes from chart.json: the
setting's one imported chunk records them. The chart and its chunks keep the times it was
charted (created <= started <= finished), not the time of the import.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from atlas.datasets import DatasetError
from atlas.store.charts import (
    ChartSpec,
    ChartSpecError,
    SettingSpec,
    attach_networks,
    chart_networks,
    chart_record,
    complete_chart,
    create_chart,
)
from atlas.store.models import Chart, Job, Network
from atlas.store.models.base import utcnow

DEFINITION = (
    "task",
    "task_parameters",
    "variant",
    "networks_per_setting",
    "seed_budget",
    "seed",
    "chunk_size",
    "acceptance_loss",
    "training",
)


def chart_export(session: Session, chart_id: int) -> tuple[list[int], dict[str, Any]]:
    """The chart's accepted networks (by setting and seed) and its chart.json document, whose
    `members` map atlas network ids to setting positions (export_dataset renames them)."""
    record = chart_record(session, chart_id)
    networks = chart_networks(session, chart_id, accepted_only=True)
    settings = [dataclasses.asdict(s) for s in record.settings]
    document = {
        "chart": {
            "id": record.id,
            "status": record.status,
            **{name: getattr(record, name) for name in DEFINITION},
            "created_at": record.created_at.isoformat(),
            "started_at": record.started_at.isoformat() if record.started_at else None,
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        },
        "settings": settings,
        "members": {n.network_id: n.position for n in networks},
    }
    return [n.network_id for n in networks], document


@dataclasses.dataclass(frozen=True)
class _Ran:
    """A setting's progress where it was charted: seeds used and networks trained."""

    seeds_used: int
    trained: int


def _spec(document: Any) -> tuple[ChartSpec, dict[str, int], list[_Ran]]:
    """The chart request chart.json describes, each dataset network's setting position and each
    setting's progress where it was charted (by default: what the dataset carries)."""
    try:
        chart, settings, members = document["chart"], document["settings"], document["members"]
        spec = ChartSpec(
            task=chart["task"],
            settings=tuple(SettingSpec(s["architecture"], int(s["units"])) for s in settings),
            networks_per_setting=int(chart["networks_per_setting"]),
            task_parameters=dict(chart["task_parameters"]),
            training=dict(chart["training"]),
            acceptance_loss=float(chart["acceptance_loss"]),
            seed_budget=int(chart["seed_budget"]),
            seed=int(chart["seed"]),
            chunk_size=int(chart["chunk_size"]),
        )
        positions = {str(key): int(position) for key, position in members.items()}
        carried = [list(positions.values()).count(p) for p in range(len(settings))]
        ran = [
            _Ran(int(s.get("seeds_used", n)), int(s.get("trained", n)))
            for s, n in zip(settings, carried, strict=True)
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DatasetError(f"chart.json is not a chart's definition: {exc!r}") from exc
    if any(not 0 <= p < len(spec.settings) for p in positions.values()):
        raise DatasetError("chart.json places a network in a setting it does not have")
    for position, (r, n) in enumerate(zip(ran, carried, strict=True)):
        if not n <= r.trained <= r.seeds_used <= spec.budget():
            raise DatasetError(
                f"chart.json's setting {position} counts {n} networks of {r.trained} trained "
                f"on {r.seeds_used} of {spec.budget()} seeds"
            )
    return spec, positions, ran


def _time(value: Any) -> datetime | None:
    """An ISO time of chart.json as an aware UTC datetime (a naive one is UTC: SQLite's)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"chart.json has a malformed time {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _times(chart: Mapping[str, Any]) -> tuple[datetime, datetime, datetime]:
    """Created, started and finished where the chart was charted, in that order: a missing
    start is its creation, a missing (or earlier) end its start; no creation at all: now."""
    created = _time(chart.get("created_at")) or utcnow()
    started = max(created, _time(chart.get("started_at")) or created)
    finished = max(started, _time(chart.get("finished_at")) or started)
    return created, started, finished


def check_chart(document: Any, rows: Mapping[str, dict[str, Any]]) -> None:
    """chart.json names networks of the dataset, each of its setting's architecture and size
    and of the chart's task variant."""
    spec, positions, _ = _spec(document)
    _times(document["chart"])
    for key, position in positions.items():
        row = rows.get(key)
        setting = spec.settings[position]
        if row is None:
            raise DatasetError(f"chart.json names network {key}, which the dataset lacks")
        if (row["task"], row["architecture"], row["units"]) != (
            spec.task, setting.architecture, setting.units
        ) or row["task_parameters"] != document["chart"]["task_parameters"]:  # fmt: skip
            raise DatasetError(f"network {key} is not of its chart setting {setting}")


def recreate_chart(session: Session, document: Any, ids: Mapping[str, int]) -> int:
    """The chart of chart.json over the imported networks (`ids`: dataset id -> atlas id);
    the same chart when this dataset was imported before. Each setting with seeds used gets
    one finished chunk of them holding its imported networks, which records the networks
    trained there; the chart and its chunks keep the times of chart.json."""
    spec, positions, ran = _spec(document)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    key = f"dataset-chart-{hashlib.sha256(canonical).hexdigest()[:40]}"
    try:
        chart, created = create_chart(session, spec, idempotency_key=key)
    except ChartSpecError as exc:
        raise DatasetError(f"chart.json: {exc}") from exc
    if not created:
        return chart.id
    created, started, finished = _times(document["chart"])
    jobs = []
    for position, setting in enumerate(ran):
        members = [ids[k] for k, p in sorted(positions.items()) if p == position]
        free = [i for i in members if session.get(Network, i).job_id is None]
        if setting.seeds_used:
            jobs.append(
                attach_networks(session, chart.id, position, free,
                                seeds=setting.seeds_used, trained=setting.trained)
            )  # fmt: skip
    complete_chart(session, chart.id)
    for row in [session.get(Chart, chart.id), *(session.get(Job, j) for j in jobs)]:
        row.created_at, row.started_at, row.finished_at = created, started, finished
    session.flush()
    return chart.id
