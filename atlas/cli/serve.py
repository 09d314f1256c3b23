"""`atlas serve`: run the REST API under uvicorn; `--demo` also trains a small demo population.

With no broker configured (the embedded default) jobs run on threads of this process, so one
command gives a working atlas: `atlas migrate && atlas serve --demo`.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

from atlas.cli import CommandError
from atlas.config import Settings, get_settings

# 150 epochs take a few minutes on 2 CPU cores. The paper's recipe needs far longer on `delayed`
# to leave the zero-output plateau (loss 0.083), so the demo's networks are really trained and
# analysed but mostly recorded as failed: a demo of the service, not a converged population.
DEMO_JOB = {
    "task": "delayed",
    "architecture": "vanilla",
    "units": 20,
    "count": 8,
    "seed": 0,
    "training": {"max_epochs": 150, "checkpoint_every": 25},
}
DEMO_IDEMPOTENCY_KEY = "atlas-demo-delayed-vanilla-20"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the REST API (and in-process jobs)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes (more than 1 needs a broker: in-process jobs live in one process)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="migrate the database and queue a demo population of 8 delayed-task networks",
    )
    parser.set_defaults(func=serve)


def submit_demo_job(settings: Settings) -> int:
    """Create the demo population's job once (a rerun finds the same one); return its id.

    With a broker it is sent to the workers; embedded, the server's start runs every
    unfinished job (worker.dispatch.resume_unfinished), this one included.
    """
    from atlas.store import (
        JobSpec,
        create_job,
        make_engine,
        migrate,
        session_factory,
        session_scope,
    )
    from worker.dispatch import enqueue_training

    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            job, created = create_job(session, JobSpec(**DEMO_JOB), DEMO_IDEMPOTENCY_KEY)
            job_id = job.id
    finally:
        engine.dispose()
    if created and not settings.embedded:
        enqueue_training(job_id, settings)
    return job_id


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from atlas.store import SchemaOutOfDateError, check_database_current

    settings = get_settings()
    if args.workers < 1 or (args.workers > 1 and (settings.embedded or args.demo)):
        raise CommandError(
            "--workers must be 1 without a broker or with --demo (in-process jobs live in one "
            "process); set ATLAS_BROKER_URL and run `atlas worker` to serve from several"
        )
    if settings.embedded and settings.torch_threads is None:
        # Training shares this process with the API: one torch thread keeps both responsive.
        # On 2 busy cores, torch's default (a thread per core) made epochs 20x slower.
        settings = settings.model_copy(update={"torch_threads": 1})
    if args.demo and settings.api_key is None:
        settings = settings.model_copy(update={"api_key": secrets.token_urlsafe(18)})
        print(f"ATLAS_API_KEY is not set; writes use this run's key: {settings.api_key}")
    if args.demo:
        job_id = submit_demo_job(settings)
        print(f"demo job {job_id}: 8 vanilla networks of 20 units on `delayed`")
    try:
        check_database_current(settings.database_url)
    except SchemaOutOfDateError as exc:
        raise CommandError(str(exc)) from exc
    base = f"http://{args.host}:{args.port}"
    mode = "in-process jobs" if settings.embedded else f"Celery broker {settings.broker_url}"
    print(f"atlas API on {base}  (docs: {base}/docs; database {settings.database_url}; {mode})")
    if args.demo:
        print(f"try: curl '{base}/solutions?task=delayed'  and  curl {base}/jobs/{job_id}")
    sys.stdout.flush()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    if args.workers > 1:  # each process builds its app from the environment's settings
        uvicorn.run(
            "api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers
        )
    else:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
