"""`atlas graph --task T --weights FILE`: a network's compact reduced-dynamics graph as JSON.

Prints node-link JSON: nodes {id, output}, edges {source, target, edge_type}; node 0 is the
start state, edge type 0 an autonomous step, other types the task's input pulses.
"""

from __future__ import annotations

import argparse
import json

from atlas.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph", help="a network's reduced-dynamics graph, as node-link JSON"
    )
    parser.add_argument("--task", required=True, help="task key (delayed, interval, reproduction)")
    parser.add_argument("--weights", required=True, help="PyTorch state dict file (.pt)")
    parser.add_argument(
        "--full", action="store_true", help="print the full graph before compaction instead"
    )
    parser.set_defaults(func=graph)


def graph(args: argparse.Namespace) -> int:
    from atlas.analysis.graph import build_graph, to_node_link
    from atlas.networks import StateDictError, load_state_dict
    from atlas.tasks import TrialTask, UnknownTaskError, get_task

    try:
        task = get_task(args.task)
    except UnknownTaskError as exc:
        raise CommandError(str(exc)) from exc
    if not isinstance(task, TrialTask):
        raise CommandError(f"task {task.name!r} has no reduced-dynamics graph (it has no inputs)")
    try:
        state_dict = load_state_dict(args.weights)
    except FileNotFoundError as exc:
        raise CommandError(f"no such file: {args.weights}") from exc
    except (StateDictError, IsADirectoryError) as exc:
        raise CommandError(str(exc)) from exc
    try:
        reduced = build_graph(state_dict, task)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(json.dumps(to_node_link(reduced.full if args.full else reduced.compact)))
    return 0
