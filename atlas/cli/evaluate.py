"""`atlas evaluate`: the validation MSE of one network file under a task's definition.

Prints one JSON object: `mse`, and what the file says about the network (architecture, units,
inputs, outputs). A state dict is loaded safely (weights_only, on the CPU); a two_neuron W is
a .npy array of shape (2, 2), read without pickle, and its `mse` is the task loss.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from atlas.cli import CommandError
from atlas.cli.train import add_task_parameter_argument, resolve_task


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="validation MSE of a network file")
    parser.add_argument("--task", required=True, help="task key or alias")
    parser.add_argument("--weights", required=True, type=Path, help="state dict (.pt) or W (.npy)")
    add_task_parameter_argument(parser)
    parser.set_defaults(func=evaluate)


def evaluate(args: argparse.Namespace) -> int:
    from atlas.tasks import TwoNeuron

    task = resolve_task(args.task, args.param)
    if not args.weights.is_file():
        raise CommandError(f"no such file: {args.weights}")
    result = (
        _two_neuron_loss(task, args.weights)
        if isinstance(task, TwoNeuron)
        else _validation_mse(task, args.weights)
    )
    print(json.dumps({"task": task.name, **result}))
    return 0


def _validation_mse(task, path: Path) -> dict:
    from atlas.networks import StateDictError, from_state_dicts, infer_shape, load_state_dict
    from atlas.training.evaluation import population_mse

    try:
        state_dict = load_state_dict(path)
    except StateDictError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    shape = infer_shape(state_dict)
    if (shape.n_inputs, shape.n_outputs) != (task.n_inputs, task.n_outputs):
        raise CommandError(
            f"{path}: the network has {shape.n_inputs} input(s) and {shape.n_outputs} "
            f"output(s); task {task.name!r} has {task.n_inputs} and {task.n_outputs}"
        )
    mse = population_mse(from_state_dicts([state_dict]), task.validation_set())
    return {
        "mse": float(mse[0]),
        "architecture": shape.architecture,
        "units": shape.units,
        "n_inputs": shape.n_inputs,
        "n_outputs": shape.n_outputs,
    }


def _two_neuron_loss(task, path: Path) -> dict:
    import numpy as np

    from atlas.training.sensitivities import loss_and_gradient

    try:
        w = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CommandError(f"{path}: not a readable .npy array ({exc})") from exc
    if w.shape != (2, 2) or not np.issubdtype(w.dtype, np.floating) or not np.isfinite(w).all():
        raise CommandError(f"{path}: a two_neuron W is a finite (2, 2) float array, got {w.shape}")
    loss, _ = loss_and_gradient(w.astype(np.float64)[None], task)
    return {"mse": float(loss[0]), "architecture": "two_neuron", "units": 2}
