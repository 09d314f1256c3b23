"""Render time of the explorer's pages at 100,000 solutions, beside the JSON endpoint each uses.

Fills a dedicated PostgreSQL database the way benchmarks/api_query.py does (synthetic solution
rows by COPY), adds solution types for `delayed` (graphs of the paper's reference networks,
every delayed network given one), serves it with uvicorn, and measures p50/p99 latency of each
page and of its JSON twin, requests interleaved across client processes. Goal: each page's p50
and p99 within 2x of its JSON's.

    .venv/bin/python benchmarks/pages.py [--rows 100000] [--requests 300] [--clients 4]

Pages without a JSON twin (home: counts per task and recent work) are listed against /tasks.
The last line is one JSON object: p50_ms and p99_ms per query, and `errors`.

Measured (100,000 solutions, 4 clients, 300 requests per query, 2 workers, on 2 cores shared
with other work, load average about 9): page/JSON p50 and p99 ratios browse 1.14/1.44, a page
40 deep 1.29/1.34, by loss 1.25/1.12, solution 1.25/1.24, task 1.39/1.24, type 1.27/1.16: the
goal is met; home against /tasks 1.67/3.56 (its counts are recounted every 5 s).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atlas.store.models import SolutionType  # noqa: E402
from atlas.tasks import DEFAULT_VARIANT, get_task  # noqa: E402
from benchmarks.api_query import (  # noqa: E402
    api_server,
    dedicated_database,
    fill,
    measure,
    percentile,
)
from tests.conftest import reference_dir  # noqa: E402

GOAL = 2.0
PAGE = 50


def add_types(url: str) -> list[int]:
    """One solution type per delayed reference network's graph; every delayed network joins
    one of them (by id), as typing would leave it. Returns the types' ids."""
    graphs = []
    for folder in sorted((reference_dir() / "networks").glob("delayed_*")):
        graph = json.loads((folder / "reduced_graph.json").read_text())
        for node in graph["nodes"]:
            node["output"] = int(node["output"])
        graphs.append(graph)
    engine = create_engine(url)
    with engine.begin() as connection:
        rows = [
            {
                "task": "delayed",
                "variant": DEFAULT_VARIANT,
                "task_parameters": get_task("delayed").parameters(),
                "name": f"delayed-bench{index}",
                "canonical_hash": f"bench{index}",
                "graph": graph,
                "member_count": 0,
            }
            for index, graph in enumerate(graphs)
        ]
        ids = list(
            connection.execute(insert(SolutionType).returning(SolutionType.id), rows).scalars()
        )
        first, count = min(ids), len(ids)
        connection.execute(
            text(
                "UPDATE networks SET solution_type_id = :first + (id % :count) "
                "WHERE task = 'delayed'"
            ),
            {"first": first, "count": count},
        )
        connection.execute(
            text(
                "UPDATE solution_types SET member_count = (SELECT count(*) FROM networks "
                "WHERE networks.solution_type_id = solution_types.id)"
            )
        )
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return ids


def deep_cursor(base: str, path: str, pages: int) -> str:
    """The cursor `pages` pages into a listing (the JSON's and the page's are the same)."""
    cursor = None
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(pages):
            query = path + (f"&cursor={cursor}" if cursor else "")
            cursor = http.get(query).json()["next_cursor"]
    return cursor


def pairs(base: str, rows: int, type_ids: list[int]) -> dict[str, tuple[list[str], list[str]]]:
    """Per page: (its paths, its JSON twin's paths)."""
    listing = f"task=delayed&architecture=vanilla&limit={PAGE}"
    by_loss = f"task=delayed&sort=validation_loss&limit={PAGE}"
    cursor = deep_cursor(base, f"/solutions?{listing}", 40)
    rng = random.Random(3)
    solutions = [rng.randint(1, rows) for _ in range(100)]
    return {
        "home": (["/atlas"], ["/tasks"]),
        "browse": ([f"/atlas/solutions?{listing}"], [f"/solutions?{listing}"]),
        "browse_deep": (
            [f"/atlas/solutions?{listing}&cursor={cursor}"],
            [f"/solutions?{listing}&cursor={cursor}"],
        ),
        "browse_by_loss": ([f"/atlas/solutions?{by_loss}"], [f"/solutions?{by_loss}"]),
        "solution": (
            [f"/atlas/solutions/{i}" for i in solutions],
            [f"/solutions/{i}" for i in solutions],
        ),
        "task": (["/atlas/tasks/delayed"], ["/types?task=delayed"]),
        "type": (
            [f"/atlas/types/{i}" for i in type_ids],
            [f"/types/{i}" for i in type_ids],
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300, help="per query")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn processes")
    args = parser.parse_args()

    with dedicated_database() as url:
        from atlas.store import migrate

        migrate(url)
        fill_s = fill(url, args.rows)
        type_ids = add_types(url)
        print(f"filled {args.rows} solutions in {fill_s:.1f} s", file=sys.stderr)
        with api_server(url, args.workers) as base:
            queries = {}
            for name, (page_paths, json_paths) in pairs(base, args.rows, type_ids).items():
                queries[f"{name}:page"] = page_paths
                queries[f"{name}:json"] = json_paths
            latencies, errors = measure(base, queries, args.clients, args.requests)

    figures = {
        name: {"p50_ms": round(percentile(v, 50), 2), "p99_ms": round(percentile(v, 99), 2)}
        for name, v in latencies.items()
    }
    print(
        f"\n{args.rows} solutions, {args.clients} client processes, {args.requests} requests per "
        f"query (interleaved), {args.workers} uvicorn worker(s)"
    )
    columns = ("page p50", "json p50", "x", "page p99", "json p99", "x")
    print(f"{'page':<16}" + "".join(f"{c:>{6 if c == 'x' else 10}}" for c in columns))
    met = True
    for name in dict.fromkeys(n.split(":")[0] for n in figures):
        page, twin = figures[f"{name}:page"], figures[f"{name}:json"]
        r50 = page["p50_ms"] / twin["p50_ms"]
        r99 = page["p99_ms"] / twin["p99_ms"]
        if name != "home":
            met &= r50 <= GOAL and r99 <= GOAL
        print(
            f"{name:<16}{page['p50_ms']:>10.1f}{twin['p50_ms']:>10.1f}{r50:>6.2f}"
            f"{page['p99_ms']:>10.1f}{twin['p99_ms']:>10.1f}{r99:>6.2f}"
        )
    print(f"errors: {errors}; goal page within {GOAL}x of its JSON: {'met' if met else 'NOT met'}")
    print(json.dumps({**figures, "errors": errors, "rows": args.rows, "clients": args.clients}))
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
