"""`atlas worker`: a Celery worker for training and analysis, one process per GPU."""

from __future__ import annotations

import argparse

from atlas.cli import CommandError
from atlas.config import get_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("worker", help="run a Celery worker (needs ATLAS_BROKER_URL)")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="worker processes (default: one per GPU, or 1 on a CPU machine)",
    )
    parser.add_argument("--loglevel", default="INFO", help="Celery log level (default: INFO)")
    parser.set_defaults(func=run)


def default_concurrency() -> int:
    """One process per GPU (each bound to its own); on the CPU one process, torch's threads."""
    import torch

    return torch.cuda.device_count() or 1


def run(args: argparse.Namespace) -> int:
    from atlas.store import SchemaOutOfDateError, check_database_current

    settings = get_settings()
    if settings.embedded:
        raise CommandError(
            "ATLAS_BROKER_URL is not set; without a broker, jobs run inside `atlas serve`"
        )
    concurrency = args.concurrency or default_concurrency()
    if concurrency < 1:
        raise CommandError("--concurrency must be at least 1")
    try:
        check_database_current(settings.database_url)
    except SchemaOutOfDateError as exc:
        raise CommandError(str(exc)) from exc

    from worker.app import celery_app

    celery_app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={settings.queue}",
            f"--loglevel={args.loglevel}",
            # Workers share nothing but the queue: no revokes to sync, no events to gossip.
            "--without-mingle",
            "--without-gossip",
        ]
    )
    return 0
