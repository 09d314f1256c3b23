"""The service as it is deployed: `atlas serve` (uvicorn) and `atlas worker` (Celery) as real
processes on PostgreSQL and Redis; the one-command embedded run; the compose and Docker files."""

from __future__ import annotations

import importlib
import io
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
import torch
import yaml
from celery import Celery
from conftest import REDIS_URL, ROOT
from throwaway_databases import postgres_database

from atlas.cli import build_parser
from atlas.cli.serve import DEMO_JOB
from atlas.networks import from_state_dicts, torch_network
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse

pytestmark = pytest.mark.slow

ATLAS = str(ROOT / ".venv" / "bin" / "atlas")
REDIS_DB = 12  # its own database; the queue name is unique per run as well
API_KEY = "e2e-key-5555"
SMALL_DELAYED = {"f_max": 5, "delay_max": 2}
TIMEOUT_S = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(**atlas: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS_")}
    env |= {"ATLAS_TORCH_THREADS": "1", "ATLAS_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    return env | {f"ATLAS_{name.upper()}": value for name, value in atlas.items()}


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child in its own process group, stopped (SIGTERM, then SIGKILL) whatever happens."""
    with log.open("a") as out:
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=30)


def wait_for(condition: Callable[[], object], what: str, *logs: Path) -> object:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            result = condition()
        except httpx.TransportError:
            result = None
        if result:
            return result
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name} ---\n{log.read_text()[-3000:]}" for log in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


@pytest.fixture
def redis_queue():
    queue = f"atlas-e2e-{uuid.uuid4().hex[:10]}"
    yield queue
    client = redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}")
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


@pytest.mark.postgresql
@pytest.mark.redis
def test_api_and_celery_worker_processes_train_a_job_into_postgres(redis_queue, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    with postgres_database("atlas_e2e") as url:
        env = service_env(
            database_url=url,
            broker_url=f"{REDIS_URL}/{REDIS_DB}",
            queue=redis_queue,
            api_key=API_KEY,
        )
        subprocess.run([ATLAS, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        serve = [ATLAS, "serve", "--host", "127.0.0.1", "--port", str(port)]
        with (
            process(serve, env, api_log),
            process([ATLAS, "worker", "--concurrency", "1"], env, worker_log),
            httpx.Client(base_url=base, timeout=30) as http,
        ):
            wait_for(lambda: http.get("/health").status_code == 200, "the API", api_log)
            assert http.get("/health").json() == {"status": "ok", "database": "ok", "broker": "ok"}
            job = {
                "task": "delayed",
                "architecture": "vanilla",
                "units": 8,
                "count": 2,
                "seed": 5,
                "task_parameters": SMALL_DELAYED,
                "training": {"max_epochs": 15, "checkpoint_every": 5, "failure_loss": 1.0},
            }
            response = http.post("/jobs", json=job, headers={"X-API-Key": API_KEY})
            assert response.status_code == 202, response.text
            job_id = response.json()["id"]

            def finished() -> dict | None:
                body = http.get(f"/jobs/{job_id}").json()
                assert body["status"] != "failed", body
                return body if body["status"] == "succeeded" else None

            body = wait_for(finished, f"job {job_id}", api_log, worker_log)
            assert body["attempts"] == 1 and body["progress"]["saved"] == 2

            listed = http.get("/solutions", params={"task": "delayed"}).json()["items"]
            assert sorted(s["id"] for s in listed) == sorted(n["id"] for n in body["networks"])
            task = get_task("delayed", **SMALL_DELAYED)
            for summary in listed:
                weights = torch.load(
                    io.BytesIO(http.get(summary["links"]["weights"]).content), weights_only=True
                )
                population = from_state_dicts([weights])
                batched = float(population_mse(population, task.validation_set())[0])
                assert batched == pytest.approx(summary["validation_loss"], rel=1e-4)
                trials = task.validation_set()
                with torch.no_grad():
                    outputs = torch_network(weights).double()(trials.inputs.double())
                plain = float((outputs - trials.targets.double()).pow(2).mean())
                assert plain == pytest.approx(summary["validation_loss"], rel=1e-3)

            def analysed() -> bool:
                details = [http.get(s["links"]["self"]).json() for s in listed]
                return all(d["analysis_status"] == "done" for d in details)

            wait_for(analysed, "the worker's analyses", worker_log)


def test_the_run_command_serves_the_embedded_atlas_with_a_demo_job(tmp_path):
    """What `bash scripts/run` does after setup: migrate, then `atlas serve --demo`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(data_dir=str(tmp_path / "data"))
    log = tmp_path / "serve.log"
    migrated = subprocess.run([ATLAS, "migrate"], cwd=ROOT, env=env, capture_output=True)
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "data" / "atlas.db").is_file()
    serve = [ATLAS, "serve", "--demo", "--port", str(port)]
    with process(serve, env, log), httpx.Client(base_url=base, timeout=30) as http:
        wait_for(lambda: http.get("/health").status_code == 200, "the API", log)
        assert http.get("/health").json()["broker"] == "embedded"
        job = http.get("/jobs/1").json()
        assert (job["task"], job["architecture"], job["units"]) == ("delayed", "vanilla", 40)
        demo_task = get_task("delayed", **DEMO_JOB["task_parameters"])
        assert job["task_parameters"] == demo_task.parameters() != get_task("delayed").parameters()
        assert job["training"]["max_epochs"] == DEMO_JOB["training"]["max_epochs"]
        assert job["status"] in ("queued", "running")
        assert http.get("/solutions", params={"task": "delayed"}).status_code == 200
        assert http.get("/docs").status_code == 200
    output = log.read_text()
    assert f"{base}/docs" in output
    key = re.search(r"writes use this run's key: (\S+)", output)
    assert key, output


# --- deployment files ------------------------------------------------------------------------


def test_compose_runs_migrations_then_api_and_workers_with_healthchecks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "api", "worker", "worker-gpu"} <= set(services)
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    for name in ("migrate", "charts", "api", "worker", "worker-gpu"):
        command = services[name]["command"]
        assert command[0] == "atlas" and command[1] in commands, (name, command)
        env = services[name]["environment"]
        assert env["ATLAS_DATABASE_URL"].startswith("postgresql+psycopg2://")
        assert "@postgres:5432/" in env["ATLAS_DATABASE_URL"]
        assert env["ATLAS_BROKER_URL"].startswith("redis://redis:6379")
        assert "ATLAS_API_KEY" in env
    for name in ("postgres", "redis", "api", "worker"):
        assert services[name]["healthcheck"]["test"], name
    celery_app = re.search(
        r"celery -A (\S+) inspect ping", services["worker"]["healthcheck"]["test"][1]
    )
    assert celery_app and isinstance(
        getattr(importlib.import_module(celery_app[1]), "celery_app", None), Celery
    )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    shipped = sorted(f"charts/{path.name}" for path in (ROOT / "charts").glob("*.zip"))
    assert shipped and services["charts"]["command"][1:] == ["import", *shipped]
    assert services["charts"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("api", "worker", "worker-gpu"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert gpu["environment"]["ATLAS_DEVICE"] == "cuda"


def test_dockerfile_pins_cpu_torch_and_copies_what_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "torch==2.13.0" in dockerfile
    assert "ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu" in dockerfile
    copied = re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE)
    sources = [source for line in copied for source in line.split()]
    assert sources and all((ROOT / source).exists() for source in sources), sources
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored
