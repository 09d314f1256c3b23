"""`atlas graph --task T --weights FILE`: a network's compact reduced-dynamics graph as JSON.

Prints node-link JSON: nodes {id, output}, edges {source, target, edge_type}; node 0 is the
start state, edge type 0 an autonomous step, other types the task's input pulses.
"""

from __future__ import annotations

import argparse
import json

from atlas.cli import CommandError
from atlas.cli.loading import add_task_arguments, load_network, resolve_task


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph", help="a network's reduced-dynamics graph, as node-link JSON"
    )
    add_task_arguments(parser, "PyTorch state dict file (.pt)")
    parser.add_argument(
        "--full", action="store_true", help="print the full graph before compaction instead"
    )
    parser.set_defaults(func=graph)


def graph(args: argparse.Namespace) -> int:
    from atlas.analysis.graph import build_graph, to_node_link

    task = resolve_task(args.task, args.param)
    state_dict = load_network(args.weights, task)
    try:
        reduced = build_graph(state_dict, task)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(json.dumps(to_node_link(reduced.full if args.full else reduced.compact)))
    return 0
