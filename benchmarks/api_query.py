"""Latency of the API's read queries over 100,000 solutions in PostgreSQL, 8 concurrent clients.

Fills a dedicated PostgreSQL database (dropped afterwards) with synthetic solution rows (COPY),
serves it with uvicorn (2 worker processes) as a subprocess, and measures p50/p99 latency of
  - GET /solutions?task=delayed&architecture=vanilla            (first page)
  - the same query a page deep in the cursor chain               (keyset pagination)
  - GET /solutions/{id}                                          (random ids)
  - GET /health                                                  (baseline: HTTP + a DB ping)
The ratio column compares each p99 with the baseline's. A second table compares, in SQL alone,
the deep page by keyset with the same page by OFFSET. Goal: p99 < 50 ms, no errors.

    .venv/bin/python benchmarks/api_query.py [--rows 100000] [--requests 800] [--clients 8]

The last line is one JSON object: p50_ms and p99_ms per query, and `errors`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, insert, text

from atlas.store import migrate
from atlas.store.arrays import to_blob
from atlas.store.models import TaskRecord
from atlas.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "ATLAS_BENCH_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432"
)
TASK_SHARES = {"delayed": 0.4, "interval": 0.3, "reproduction": 0.3}
ARCHITECTURE_SHARES = {"vanilla": 0.6, "gru": 0.2, "lstm": 0.2}
PAGE = 50
DEEP_PAGES = 100


@contextmanager
def dedicated_database() -> Iterator[str]:
    name = f"atlas_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{POSTGRES_URL}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_URL}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def synthetic_rows(rows: int, seed: int = 0) -> Iterator[dict[str, object]]:
    """`rows` plausible solutions: tasks, architectures and sizes mixed, losses log-uniform."""
    rng = random.Random(seed)
    parameters = {name: json.dumps(get_task(name).parameters()) for name in TASK_SHARES}
    curve = "\\x" + to_blob(np.geomspace(0.08, 2e-5, 50)).hex()  # one shared small blob
    start_time = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(rows):
        task = rng.choices(list(TASK_SHARES), weights=list(TASK_SHARES.values()))[0]
        architecture = rng.choices(
            list(ARCHITECTURE_SHARES), weights=list(ARCHITECTURE_SHARES.values())
        )[0]
        loss = 10 ** rng.uniform(-5, -2)
        yield {
            "task": task,
            "task_parameters": parameters[task],
            "architecture": architecture,
            "units": rng.choice((20, 30, 40, 50)),
            "n_inputs": 2,
            "n_outputs": 1,
            "source": "trained",
            "info": "{}",
            "seed": i,
            "status": "converged" if loss < 2e-4 else "failed",
            "epochs": rng.randint(100, 2000),
            "steps": rng.randint(4000, 90000),
            "best_loss": loss * 0.8,
            "final_loss": loss * 0.9,
            "validation_loss": loss,
            "loss_curve": curve,
            "code_version": "bench",
            "analysis_status": "done",
            "created_at": (start_time + timedelta(seconds=i)).isoformat(),
        }


def fill(url: str, rows: int) -> float:
    """Bulk-load `rows` synthetic solutions with COPY, then ANALYZE; returns seconds taken."""
    engine = create_engine(url)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            insert(TaskRecord),
            [
                {
                    "name": t.name,
                    "long_name": t.long_name,
                    "kind": t.kind,
                    "description": t.description,
                    "parameters": t.parameters(),
                }
                for t in map(get_task, TASK_SHARES)
            ],
        )
        buffer = io.StringIO()
        columns = None
        for row in synthetic_rows(rows):
            if columns is None:
                columns = list(row)
                writer = csv.DictWriter(buffer, fieldnames=columns)
            writer.writerow(row)
        buffer.seek(0)
        cursor = connection.connection.cursor()
        cursor.copy_expert(
            f"COPY networks ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def api_server(url: str, workers: int) -> Iterator[str]:
    """uvicorn serving the app factory on `url` (no broker: nothing is queued here)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS_")}
    env |= {"ATLAS_DATABASE_URL": url, "ATLAS_API_KEY": uuid.uuid4().hex}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log = server.stderr.read().decode()[-2000:]
                raise RuntimeError(f"the API did not start: {log}")
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_client(base: str, plan: list[tuple[str, str]]) -> list[tuple[str, float, bool]]:
    """One client: its requests in order on one keep-alive connection; (query, ms, ok) each."""
    results = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for _, path in plan[:5]:  # warm the connection and the server's caches
            http.get(path)
        for name, path in plan:
            started = time.perf_counter()
            try:
                ok = http.get(path).status_code == 200
            except httpx.HTTPError:
                ok = False
            results.append((name, (time.perf_counter() - started) * 1000, ok))
    return results


def measure(
    base: str, queries: dict[str, list[str]], clients: int, requests: int
) -> tuple[dict[str, list[float]], int]:
    """Latencies (ms) per query of `requests` GETs of each, from `clients` client processes.

    The queries are interleaved (shuffled) so that each sees the same machine load, and the
    clients are processes so that they do not queue on one interpreter's lock.
    """
    rng = random.Random(2)
    mixed = [
        (name, paths[i % len(paths)]) for name, paths in queries.items() for i in range(requests)
    ]
    rng.shuffle(mixed)
    plans = [mixed[k::clients] for k in range(clients)]
    with ProcessPoolExecutor(clients) as pool:
        results = [r for batch in pool.map(run_client, [base] * clients, plans) for r in batch]
    latencies: dict[str, list[float]] = {name: [] for name in queries}
    for name, ms, _ in results:
        latencies[name].append(ms)
    return latencies, sum(not ok for _, _, ok in results)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def deep_cursor(base: str, query: str) -> tuple[str, int]:
    """The cursor DEEP_PAGES pages into the chain, and the id of the row before it."""
    cursor, last = None, 0
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(DEEP_PAGES):
            page = http.get(query + (f"&cursor={cursor}" if cursor else "")).json()
            cursor, last = page["next_cursor"], page["items"][-1]["id"]
    return cursor, last


def sql_keyset_vs_offset(url: str, last_id: int, repeats: int = 50) -> dict[str, float]:
    """Median ms of the deep page by keyset (id < last) and by OFFSET, in SQL alone."""
    select = (
        "SELECT id, task, architecture, units, validation_loss, created_at FROM networks "
        "WHERE task = 'delayed' AND architecture = 'vanilla'"
    )
    keyset = f"{select} AND id < :last ORDER BY id DESC LIMIT {PAGE}"
    offset = f"{select} ORDER BY id DESC LIMIT {PAGE} OFFSET {DEEP_PAGES * PAGE}"
    engine = create_engine(url)
    timings = {}
    with engine.connect() as connection:
        for name, sql in (("keyset", keyset), ("offset", offset)):
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                connection.execute(text(sql), {"last": last_id}).all()
                samples.append((time.perf_counter() - started) * 1000)
            timings[name] = statistics.median(samples)
    engine.dispose()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=800, help="per query")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes")
    args = parser.parse_args()

    with dedicated_database() as url:
        migrate(url)
        fill_s = fill(url, args.rows)
        print(f"filled {args.rows} solutions in {fill_s:.1f} s", file=sys.stderr)
        with api_server(url, args.workers) as base:
            listing = f"/solutions?task=delayed&architecture=vanilla&limit={PAGE}"
            cursor, last_id = deep_cursor(base, listing)
            rng = random.Random(1)
            queries = {
                "health_baseline": ["/health"],
                "first_page": [listing],
                "deep_page": [f"{listing}&cursor={cursor}"],
                "solution_detail": [f"/solutions/{rng.randint(1, args.rows)}" for _ in range(200)],
            }
            latencies, errors = measure(base, queries, args.clients, args.requests)
            figures = {
                name: {
                    "p50_ms": round(percentile(values, 50), 2),
                    "p99_ms": round(percentile(values, 99), 2),
                }
                for name, values in latencies.items()
            }
        sql = sql_keyset_vs_offset(url, last_id)

    baseline = figures["health_baseline"]["p99_ms"]
    print(
        f"\n{args.rows} solutions, {args.clients} client processes, {args.requests} requests per "
        f"query (interleaved), {args.workers} uvicorn worker(s)"
    )
    print(f"{'query':<18}{'p50 ms':>10}{'p99 ms':>10}{'p99 / baseline':>16}")
    for name, figure in figures.items():
        ratio = figure["p99_ms"] / baseline
        print(f"{name:<18}{figure['p50_ms']:>10.2f}{figure['p99_ms']:>10.2f}{ratio:>16.2f}")
    depth = DEEP_PAGES * PAGE
    print(
        f"\nSQL only, page at row {depth}: keyset {sql['keyset']:.2f} ms, "
        f"OFFSET {sql['offset']:.2f} ms (OFFSET / keyset {sql['offset'] / sql['keyset']:.1f}x)"
    )
    print(
        f"errors: {errors}; goal p99 < 50 ms: "
        f"{'met' if all(f['p99_ms'] < 50 for f in figures.values()) else 'NOT met'}"
    )
    print(json.dumps({
        **figures,
        "errors": errors,
        "rows": args.rows,
        "clients": args.clients,
        "workers": args.workers,
        "sql_deep_page_ms": {k: round(v, 3) for k, v in sql.items()},
    }))  # fmt: skip
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
