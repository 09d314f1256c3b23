"""A small chart end to end, and where its time goes: training, analysis, storage.

The chart's chunks and its networks' analyses run one after another on this thread through
the worker's own task functions (worker.tasks, worker.charts), as a worker process runs them,
on a fresh database (SQLite file by default, `--database-url` for PostgreSQL). Time (this
thread's CPU time, which a busy machine does not inflate, and wall time) is split by timing
the science calls themselves:
- training: the batched training of each chunk (atlas.training.train_population), less the
  time its per-network callback spent storing networks;
- analysis: each analysis step's computation (its `run`);
- storage and orchestration: the rest (creating and advancing the chart, storing networks,
  loading a step's inputs and saving its results, job bookkeeping): total minus the two above.
The goal is analysis and storage together under 10% of the total.

Default chart: the shortened `delayed` variant of tests/trained_populations.py (its GRU
recipe: lr 5e-3, batches of 8, at most 240 epochs), GRU-20 and GRU-30, 4 accepted networks
each (acceptance: validation loss below 2e-4), chunks of 4.

Usage: python benchmarks/chart.py [--settings gru:20,gru:30] [--networks 4] [--threads 1]
       [--database-url URL]
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas.config import Settings
from atlas.store import make_engine, migrate, session_factory, session_scope
from atlas.store.charts import ChartSpec, SettingSpec, advance_chart, chart_record, create_chart
from tests.trained_populations import RECIPES
from worker import charts, steps, tasks
from worker.database import bound_to

SECONDS: dict[str, float] = defaultdict(float)
"""CPU seconds of this thread per part (the work runs on it alone, torch on --threads)."""
WALL: dict[str, float] = defaultdict(float)


def timed(name: str, function: Callable) -> Callable:
    """`function`, its CPU and wall time added to SECONDS[name] and WALL[name]."""

    def wrapper(*args, **kwargs):
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[name] += time.thread_time() - cpu
            WALL[name] += time.perf_counter() - wall

    return wrapper


def instrument() -> None:
    """Time the science where the worker calls it: training and each step's computation."""
    train = tasks.train

    def training(*args, on_network_done, **kwargs):
        return train(*args, on_network_done=timed("storing networks", on_network_done), **kwargs)

    tasks.train = timed("training and storing networks", training)
    # worker.tasks runs the very list worker.steps holds: replace its items in place.
    steps.STEPS[:] = [
        dataclasses.replace(step, run=timed(f"analysis: {step.name}", step.run))
        for step in steps.STEPS
    ]


def run_chart(settings: Settings, spec: ChartSpec) -> int:
    """Create the chart and run its chunks and analyses to the end; returns its id."""
    sessions = session_factory(make_engine(settings.database_url))
    with bound_to(settings):
        with session_scope(sessions) as session:
            chart_id = create_chart(session, spec)[0].id
            chunks = advance_chart(session, chart_id)
        analyses: list[int] = []
        while chunks:
            job_id = chunks.pop(0)
            tasks.train_job(job_id, on_network_saved=analyses.append)
            charts.chunk_ended(job_id, chunks.append)
        for network_id in analyses:
            tasks.analyse_network(network_id)
    return chart_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="gru:20,gru:30", help="ARCH:UNITS,...")
    parser.add_argument("--networks", type=int, default=4, help="accepted networks per setting")
    parser.add_argument("--chunk-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = RECIPES["delayed"]
    pairs = [item.split(":") for item in args.settings.split(",")]
    spec = ChartSpec(
        task="delayed",
        task_parameters=recipe.task_parameters,
        training={**recipe.training, "device": "cpu"},
        settings=tuple(SettingSpec(a, int(u)) for a, u in pairs),
        networks_per_setting=args.networks,
        chunk_size=args.chunk_size,
    )
    folder = Path(tempfile.mkdtemp(prefix="atlas-chart-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'atlas.db'}"
    migrate(url)
    settings = Settings(database_url=url, torch_threads=args.threads, device="cpu")
    instrument()
    wall, cpu = time.perf_counter(), time.thread_time()
    chart_id = run_chart(settings, spec)
    totals = {"cpu": time.thread_time() - cpu, "wall": time.perf_counter() - wall}

    with session_scope(session_factory(make_engine(url))) as session:
        record = chart_record(session, chart_id)
    print(f"chart {chart_id} {record.status} on {url.split(':')[0]}")
    for s in record.settings:
        print(f"  {s.label}: {s.accepted} accepted of {s.trained} trained ({s.chunks} chunks)")
    shares = {}
    for clock, seconds in (("cpu", SECONDS), ("wall", WALL)):
        total = totals[clock]
        parts = {
            "training": seconds["training and storing networks"] - seconds["storing networks"],
            "analysis": sum(v for k, v in seconds.items() if k.startswith("analysis: ")),
        }
        parts["storage"] = total - parts["training"] - parts["analysis"]
        shares[clock] = {name: round(value / total, 4) for name, value in parts.items()}
        print(f"{clock}: total {total:.1f} s")
        for name, value in parts.items():
            print(f"  {name:<9} {value:8.1f} s  {value / total:6.1%}")
    for name, value in sorted(SECONDS.items()):
        if name.startswith("analysis: ") or name == "storing networks":
            print(f"    {name:<24} {value:7.2f} s CPU")
    print(
        json.dumps(
            {
                "chart": args.settings,
                "networks_per_setting": args.networks,
                "database": url.split(":")[0],
                "status": record.status,
                "trained": sum(s.trained for s in record.settings),
                "accepted": sum(s.accepted for s in record.settings),
                "total_cpu_s": round(totals["cpu"], 2),
                "total_wall_s": round(totals["wall"], 2),
                "shares_cpu": shares["cpu"],
                "shares_wall": shares["wall"],
                "analysis_and_storage_share_cpu": round(
                    shares["cpu"]["analysis"] + shares["cpu"]["storage"], 4
                ),
                "steps_cpu_s": {
                    k.removeprefix("analysis: "): round(v, 2)
                    for k, v in SECONDS.items()
                    if k.startswith("analysis: ")
                },
            }
        )
    )


if __name__ == "__main__":
    main()
