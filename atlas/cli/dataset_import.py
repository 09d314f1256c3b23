"""`atlas import DATASET...`: load exported datasets (folder, .zip, .tar or .tar.gz) into the
atlas without retraining. Everything is checked first and written in one transaction: on any
problem nothing is written and the command exits non-zero naming it. Networks already in the
atlas (same content key) are not imported twice. Networks whose analysis the dataset leaves
incomplete are queued for analysis (`--no-analysis` leaves them pending).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from atlas.cli import CommandError
from atlas.cli.analyses import analyse_or_queue
from atlas.cli.database import atlas_session


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="load an exported dataset (folder or archive) into the atlas"
    )
    parser.add_argument(
        "datasets",
        type=Path,
        nargs="+",
        metavar="DATASET",
        help="dataset folder, .zip, .tar or .tar.gz (several: each in its own transaction)",
    )
    parser.add_argument(
        "--no-analysis",
        action="store_true",
        help="do not queue the analysis of networks the dataset brings unanalysed",
    )
    parser.add_argument(
        "--database-url", help="atlas database (default: ATLAS_DATABASE_URL, else the SQLite file)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    to_analyse = []
    for path in args.datasets:
        to_analyse += _import(path, args.database_url)
    if to_analyse and not args.no_analysis:
        analyse_or_queue(to_analyse, args.database_url)
    return 0


def _import(path: Path, database_url: str | None) -> list[int]:
    """Import one dataset; the new networks whose analysis it leaves incomplete."""
    from atlas.datasets import DatasetError, parse_dataset, read_files
    from atlas.store import import_dataset
    from worker.tasks import one_torch_thread

    started = time.perf_counter()
    try:
        dataset = parse_dataset(read_files(path))
        # Checking runs many small networks: one torch thread is ~3x faster on a busy machine.
        with one_torch_thread(), atlas_session(database_url) as session:
            report = import_dataset(session, dataset)
    except DatasetError as exc:
        raise CommandError(f"{path}: {exc}; nothing was imported from it") from exc
    seconds = time.perf_counter() - started
    print(
        f"{path}: {report.title}: {len(report.created)} networks imported, "
        f"{len(report.existing)} already in the atlas, in {seconds:.1f} s"
    )
    for name, count in sorted(report.types.items(), key=lambda item: -item[1]):
        print(f"  {name}: {count}")
    if report.chart_id is not None:
        print(f"  chart {report.chart_id} (atlas chart show {report.chart_id})")
    return report.to_analyse
