"""`atlas extrapolate --task T --weights FILE`: a network's extrapolation signature as JSON.

Prints one JSON object: the task, the network's shape, the summary scalars and the signature's
arrays as lists (NaN as null).
"""

from __future__ import annotations

import argparse
import json

from atlas.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extrapolate", help="a network's behaviour beyond its training range, as JSON"
    )
    parser.add_argument("--task", required=True, help="task key (delayed, interval, reproduction)")
    parser.add_argument("--weights", required=True, help="PyTorch state dict file (.pt)")
    parser.set_defaults(func=extrapolate)


def extrapolate(args: argparse.Namespace) -> int:
    from atlas.analysis.extrapolation import SIGNATURES, extrapolation_signature
    from atlas.networks import StateDictError, from_state_dicts, load_state_dict
    from atlas.tasks import UnknownTaskError, get_task

    try:
        task = get_task(args.task)
    except UnknownTaskError as exc:
        raise CommandError(str(exc)) from exc
    if task.name not in SIGNATURES:
        raise CommandError(
            f"task {task.name!r} has no extrapolation signature; use one of {sorted(SIGNATURES)}"
        )
    try:
        population = from_state_dicts([load_state_dict(args.weights)])
    except FileNotFoundError as exc:
        raise CommandError(f"no such file: {args.weights}") from exc
    except (StateDictError, IsADirectoryError) as exc:
        raise CommandError(str(exc)) from exc
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
