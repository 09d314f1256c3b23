"""`atlas serve`: run the REST API under uvicorn; `--demo` also trains a small demo population.

With no broker configured (the embedded default) jobs run on threads of this process, so one
command gives a working atlas: `atlas migrate && atlas serve --demo`.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from atlas.cli import CommandError
from atlas.config import Settings, get_settings

API_KEY_FILE = "api_key"

# The demo must show solved, analysed networks within minutes on 2 CPU cores. On the full
# `delayed` task none of 8 networks got below a validation loss of 2e-4 in 5 minutes of CPU
# (they sit hundreds of epochs on the zero-output plateau, at lr 1e-3, 3e-3 or 1e-2). On this
# shortened variant (the paper's amplitudes 2..10; delays 0..2 instead of 0..19; trials of 32
# steps, still long enough for the graph protocol and the neural features), measured on one
# torch thread: 6 of these 8 networks are below 2e-4 after about 800 epochs (90 s of CPU) and
# converge (2e-5) by epoch 2800; the 3000 epochs take about 230 s of CPU.
DEMO_TASK_PARAMETERS = {
    "delay_max": 2,
    "f1_onset": 2,
    "f2_onset": 16,
    "response_onset": 24,
    "trial_length": 32,
}
DEMO_JOB = {
    "task": "delayed",
    "architecture": "vanilla",
    "units": 40,
    "count": 8,
    "seed": 0,
    "task_parameters": DEMO_TASK_PARAMETERS,
    "training": {
        "max_epochs": 3000,
        "learning_rate": 3e-3,
        "batch_size": 32,
        "checkpoint_every": 250,
    },
}
DEMO_IDEMPOTENCY_KEY = "atlas-demo-delayed-short-vanilla-40"
DEMO_DESCRIPTION = (
    "8 vanilla networks of 40 units on a shortened `delayed` task (delays 0..2, trials of 32 "
    "steps; see README), a few minutes of CPU"
)


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
        help="queue a demo population: 8 networks on a shortened delayed task",
    )
    parser.set_defaults(func=serve)


def submit_demo_job(settings: Settings) -> int:
    """Create the demo population's job once (a rerun finds the same one); return its id.

    With a broker it is sent to the workers; embedded, the server's start runs every
    unfinished job (worker.dispatch.resume_unfinished), this one included.
    """
    from atlas.store import JobSpec, make_engine, migrate, session_factory, submit_job
    from worker.dispatch import enqueue_training

    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        job, created = submit_job(
            session_factory(engine),
            JobSpec(**DEMO_JOB),
            DEMO_IDEMPOTENCY_KEY,
            check_replay=False,  # a rerun finds the demo job of an earlier version too
        )
    finally:
        engine.dispose()
    if created and not settings.embedded:
        enqueue_training(job.id, settings)
    return job.id


def stored_api_key(data_dir: Path) -> tuple[str, Path]:
    """The key the embedded service generated once and keeps in `data_dir/api_key` (mode
    0600), so that clients holding it keep working across restarts; made on first use."""
    path = data_dir / API_KEY_FILE
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key, path
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(18)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode applies only to a file it creates
    return key, path


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
        key, path = stored_api_key(settings.data_dir)
        settings = settings.model_copy(update={"api_key": key})
        print(f"ATLAS_API_KEY is not set; writes use this run's key: {key}")
        print(f"  (kept in {path}, mode 0600: the same at every start; delete it for a new one)")
    if args.demo:
        job_id = submit_demo_job(settings)
        print(f"demo job {job_id}: {DEMO_DESCRIPTION}")
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
