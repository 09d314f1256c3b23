"""`atlas evaluate`: the validation MSE of one network file under a task's definition.

Prints one JSON object: `mse`, and what the file says about the network (architecture, units,
inputs, outputs). A state dict is loaded safely (weights_only, on the CPU); for the two-neuron
study model (`--task two_neuron`) W is a .npy array of shape (2, 2), read without pickle, and
its `mse` is the model's loss.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from atlas.cli import CommandError
from atlas.cli.loading import (
    add_task_parameter_argument,
    load_network,
    read_two_neuron_weights,
    resolve_study_model,
    resolve_task,
)

if TYPE_CHECKING:
    from atlas.studies import TwoNeuronModel


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="validation MSE of a network file")
    parser.add_argument(
        "--task", required=True, help="task key or alias, or two_neuron (the study model)"
    )
    parser.add_argument("--weights", required=True, type=Path, help="state dict (.pt) or W (.npy)")
    add_task_parameter_argument(parser)
    parser.set_defaults(func=evaluate)


def evaluate(args: argparse.Namespace) -> int:
    model = resolve_study_model(args.task, args.param)
    if model is not None:
        result = {"task": model.name, **_two_neuron_loss(model, args.weights)}
    else:
        task = resolve_task(args.task, args.param)
        result = {"task": task.name, **_validation_mse(task, args.weights)}
    print(json.dumps(result))
    return 0


def _validation_mse(task, path: Path) -> dict:
    from atlas.networks import from_state_dicts, infer_shape
    from atlas.training.evaluation import population_mse

    state_dict = load_network(path, task)
    shape = infer_shape(state_dict)
    mse = population_mse(from_state_dicts([state_dict]), task.validation_set())
    return {
        "mse": float(mse[0]),
        "architecture": shape.architecture,
        "units": shape.units,
        "n_inputs": shape.n_inputs,
        "n_outputs": shape.n_outputs,
    }


def _two_neuron_loss(model: TwoNeuronModel, path: Path) -> dict:
    from atlas.training.sensitivities import loss_and_gradient

    w = read_two_neuron_weights(path)
    if len(w) != 1:
        raise CommandError(f"{path}: holds {len(w)} networks; give one W of shape (2, 2)")
    loss, _ = loss_and_gradient(w, model)
    return {"mse": float(loss[0]), "architecture": "two_neuron", "units": 2}
