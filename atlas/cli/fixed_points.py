"""`atlas fixed-points --task T --weights FILE`: a network's fixed and slow points, as JSON.

For delayed / interval / reproduction, FILE is a PyTorch state dict (.pt) and the conditions
are zero input and each constant input level of the task; for two_neuron, FILE is a .npy array
of W (2, 2) and the condition is the autonomous flow. Prints one JSON object: per condition,
its input and its points, each with kind (fixed or slow), q, stability, the output, a summary
of the state (norm, min, max) and the Jacobian's eigenvalues, largest modulus first.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from atlas.cli import CommandError
from atlas.cli.arguments import starts
from atlas.cli.loading import (
    add_task_arguments,
    load_network,
    read_two_neuron_weights,
    resolve_study_model,
    resolve_task,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fixed-points", help="a network's fixed and slow points per input condition, as JSON"
    )
    add_task_arguments(parser, "state dict (.pt); for two_neuron a .npy W (2, 2)")
    parser.add_argument(
        "--starts", type=starts, default=64, help="starting states per condition (1..4096)"
    )
    parser.set_defaults(func=fixed_points)


def _trial_task_report(task, weights: str, starts: int) -> dict[str, Any]:
    from atlas.analysis.fixed_point_conditions import analyse_fixed_points
    from atlas.networks import from_state_dicts

    population = from_state_dicts([load_network(weights, task)])
    try:
        (analysis,) = analyse_fixed_points(population, task, n_initial=starts)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return {
        "architecture": population.architecture,
        "units": population.units,
        **analysis.to_dict(include_states=False),
    }


def _two_neuron_report(weights: str) -> dict[str, Any]:
    import torch

    from atlas.analysis.fixed_points import find_two_neuron_fixed_points

    w = read_two_neuron_weights(weights)
    if len(w) != 1:
        raise CommandError(f"{weights} holds {len(w)} networks; give one W of shape (2, 2)")
    (points,) = find_two_neuron_fixed_points(torch.from_numpy(w))
    condition = {"condition": "autonomous", "inputs": [], **points.to_dict(include_states=True)}
    return {"w": w[0].tolist(), "conditions": [condition]}


def fixed_points(args: argparse.Namespace) -> int:
    model = resolve_study_model(args.task, args.param)
    if model is not None:
        report = {"task": model.name, **_two_neuron_report(args.weights)}
    else:
        task = resolve_task(args.task, args.param)
        report = {"task": task.name, **_trial_task_report(task, args.weights, args.starts)}
    print(json.dumps(report))
    return 0
