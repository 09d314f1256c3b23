"""`atlas extrapolate --task T --weights FILE`: a network's extrapolation signature as JSON.

Prints one JSON object: the task, the network's shape, the summary scalars and the signature's
arrays as lists (NaN as null).
"""

from __future__ import annotations

import argparse
import json

from atlas.cli import CommandError
from atlas.cli.loading import add_task_arguments, load_network, resolve_task


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extrapolate", help="a network's behaviour beyond its training range, as JSON"
    )
    add_task_arguments(parser, "PyTorch state dict file (.pt)")
    parser.set_defaults(func=extrapolate)


def extrapolate(args: argparse.Namespace) -> int:
    from atlas.analysis.extrapolation import extrapolation_signature, has_signature
    from atlas.networks import from_state_dicts

    task = resolve_task(args.task, args.param)
    if not has_signature(task):
        raise CommandError(f"task {task.name!r} declares no extrapolation signature")
    population = from_state_dicts([load_network(args.weights, task)])
    try:
        (signature,) = extrapolation_signature(population, task)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    report = {
        "task": task.name,
        "architecture": population.architecture,
        "units": population.units,
        **signature.to_json(),
    }
    print(json.dumps(report))
    return 0
