"""`atlas graph --task T --weights FILE`: a network's compact reduced-dynamics graph as JSON.

Prints node-link JSON: nodes {id, output}, edges {source, target, edge_type}; node 0 is the
start state, edge type 0 an autonomous step, other types the task's input pulses. A network
that is no solution (validation loss not below 2e-4) gets its graph with a warning on stderr:
the atlas itself neither reduces nor types such networks.
"""

from __future__ import annotations

import argparse
import json
import sys

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
    from atlas.network_status import no_solution_reason
    from atlas.networks import from_state_dicts
    from atlas.training.evaluation import population_mse

    task = resolve_task(args.task, args.param)
    state_dict = load_network(args.weights, task)
    loss = float(population_mse(from_state_dicts([state_dict]), task.validation_set())[0])
    reason = no_solution_reason(loss)
    if reason is not None:
        print(f"atlas graph: warning: {reason}; its graph follows all the same", file=sys.stderr)
    try:
        reduced = build_graph(state_dict, task)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(json.dumps(to_node_link(reduced.full if args.full else reduced.compact)))
    return 0
