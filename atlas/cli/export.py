"""`atlas export --out DIR [filters | --chart ID]`: networks of the atlas as a dataset folder
(and optionally an archive of it) that pandas and torch read: weights in safetensors, training
records, analyses and types as JSON, a README and a SHA-256 manifest (docs/datasets.md).

The filters are those of `GET /solutions`; `--chart ID` exports a chart's networks with the
chart's definition and counts (chart.json).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas.cli import CommandError
from atlas.cli.arguments import positive_int, record_id
from atlas.cli.database import atlas_session
from atlas.network_status import STATUSES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

FILTERS = ("task", "architecture", "units", "status", "source", "type", "min_loss", "max_loss")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write networks of the atlas (a query or a chart) as a dataset"
    )
    parser.add_argument("--out", required=True, type=Path, help="dataset folder to create")
    parser.add_argument(
        "--archive", choices=("zip", "tar", "tar.gz"), help="also write DIR.zip (or .tar...)"
    )
    parser.add_argument("--title", help="the dataset's title (default: from the selection)")
    parser.add_argument("--task", help="task name or alias")
    parser.add_argument("--architecture", "--arch", choices=("vanilla", "gru", "lstm"))
    parser.add_argument("--units", type=positive_int)
    parser.add_argument("--status", choices=STATUSES)
    parser.add_argument("--source", choices=("trained", "imported"))
    parser.add_argument("--type", help="a solution type's name")
    parser.add_argument("--min-loss", type=float, help="validation loss at least")
    parser.add_argument("--max-loss", type=float, help="validation loss at most")
    parser.add_argument("--job", type=record_id, help="networks trained by this job")
    parser.add_argument(
        "--chart", type=record_id, help="export this chart's networks (takes no filters)"
    )
    parser.add_argument(
        "--checkpoints", action="store_true", help="include intermediate checkpoints"
    )
    parser.add_argument(
        "--jacobians",
        action="store_true",
        help="include the fixed points' Jacobians (else recomputed on import; larger)",
    )
    parser.add_argument(
        "--database-url", help="atlas database (default: ATLAS_DATABASE_URL, else the SQLite file)"
    )
    parser.set_defaults(func=run)


def _query(session: Session, args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The filters, and the selection recorded in the dataset; `--task` may name a built-in
    task or a user's task stored in this atlas."""
    from atlas.store import SolutionFilters, task_name
    from atlas.tasks import UnknownTaskError

    task = None
    if args.task is not None:
        try:
            task = task_name(session, args.task)
        except UnknownTaskError as exc:
            raise CommandError(str(exc)) from exc
    filters = SolutionFilters(
        task=task,
        architecture=args.architecture,
        units=args.units,
        status=args.status,
        source=args.source,
        solution_type=args.type,
        min_loss=args.min_loss,
        max_loss=args.max_loss,
        job_id=args.job,
    )
    given = {k: v for k, v in vars(filters).items() if v is not None}
    return filters, {"kind": "query", "filters": given}


def run(args: argparse.Namespace) -> int:
    from atlas.datasets import DatasetError, archive_bytes, write_folder
    from atlas.store import export_dataset, selected_network_ids

    if args.chart is not None:
        given = [
            f"--{name.replace('_', '-')}"
            for name in (*FILTERS, "job")
            if getattr(args, name) is not None
        ]
        if given:  # a chart's networks are its own; filtering them would misdescribe the chart
            raise CommandError(
                f"--chart exports the chart's networks; it takes no filters ({', '.join(given)})"
            )
    if args.out.exists() and any(args.out.iterdir()):
        raise CommandError(f"{args.out} exists and is not empty")
    started = time.perf_counter()
    with atlas_session(args.database_url) as session:
        if args.chart is not None:
            network_ids, selection, chart = _chart_selection(session, args.chart)
        else:
            filters, selection = _query(session, args)
            network_ids, chart = selected_network_ids(session, filters), None
        if not network_ids:
            raise CommandError("no networks match; nothing to export")
        title = args.title or _title(selection)
        files = export_dataset(
            session,
            network_ids,
            title=title,
            selection=selection,
            checkpoints=args.checkpoints,
            jacobians=args.jacobians,
            chart=chart,
        )
    try:
        write_folder(args.out, files)
    except (DatasetError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    size = sum(len(data) for data in files.values())
    print(f"{len(network_ids)} networks in {len(files)} files ({size / 1e6:.2f} MB) at {args.out}")
    if args.archive:
        archive = args.out.with_name(f"{args.out.name}.{args.archive}")
        archive.write_bytes(archive_bytes(files, args.out.name, args.archive))
        print(f"archive {archive} ({archive.stat().st_size / 1e6:.2f} MB)")
    print(f"exported in {time.perf_counter() - started:.1f} s")
    return 0


def _title(selection: dict[str, Any]) -> str:
    if selection["kind"] == "chart":
        return f"atlas chart {selection['chart_id']}"
    filters = selection["filters"]
    described = ", ".join(f"{k}={v}" for k, v in filters.items()) or "all networks"
    return f"atlas networks ({described})"


def _chart_selection(session: Session, chart_id: int) -> tuple[list[int], dict[str, Any], Any]:
    """A chart's accepted networks, the selection naming it, and its chart.json document."""
    from atlas.store import chart_export

    try:
        network_ids, document = chart_export(session, chart_id)
    except LookupError as exc:
        raise CommandError(str(exc)) from exc
    return network_ids, {"kind": "chart", "chart_id": chart_id}, document
