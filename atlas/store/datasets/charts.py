"""A chart in a dataset (chart.json) and back: its definition, its settings' counts where it
was charted, and which of the dataset's networks belong to which setting.

On import the chart is re-created from its definition over the imported networks
(atlas.store.charts: create_chart, attach_networks per setting, complete_chart), under an
idempotency key derived from chart.json, so importing the dataset twice makes one chart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
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
from atlas.store.models import Network

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
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        },
        "settings": settings,
        "members": {n.network_id: n.position for n in networks},
    }
    return [n.network_id for n in networks], document


def _spec(document: Any) -> tuple[ChartSpec, dict[str, int]]:
    """The chart request chart.json describes, and each dataset network's setting position."""
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
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DatasetError(f"chart.json is not a chart's definition: {exc!r}") from exc
    if any(not 0 <= p < len(spec.settings) for p in positions.values()):
        raise DatasetError("chart.json places a network in a setting it does not have")
    return spec, positions


def check_chart(document: Any, rows: Mapping[str, dict[str, Any]]) -> None:
    """chart.json names networks of the dataset, each of its setting's architecture and size
    and of the chart's task variant."""
    spec, positions = _spec(document)
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
    the same chart when this dataset was imported before."""
    spec, positions = _spec(document)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    key = f"dataset-chart-{hashlib.sha256(canonical).hexdigest()[:40]}"
    try:
        chart, created = create_chart(session, spec, idempotency_key=key)
    except ChartSpecError as exc:
        raise DatasetError(f"chart.json: {exc}") from exc
    if not created:
        return chart.id
    for position in range(len(spec.settings)):
        members = [ids[k] for k, p in sorted(positions.items()) if p == position]
        free = [i for i in members if session.get(Network, i).job_id is None]
        if free:
            attach_networks(session, chart.id, position, free)
    complete_chart(session, chart.id)
    return chart.id
