"""What the network commands share: resolving a task (or the two-neuron study model) with
overrides and loading weights safely.

Every failure becomes a CommandError naming the file and the problem, so each command prints
one line and exits non-zero instead of a traceback. (No `register`: not a command itself.)
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from atlas.cli import CommandError

if TYPE_CHECKING:
    from atlas.studies import TwoNeuronModel
    from atlas.tasks import TrialTask


def add_task_arguments(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """--task, --weights and repeatable --param NAME=VALUE overrides."""
    parser.add_argument(
        "--task",
        required=True,
        help="task key or alias, or a declaration file (.yaml, .json; docs/tasks.md)",
    )
    parser.add_argument("--weights", required=True, help=weights_help)
    add_task_parameter_argument(parser)


def add_task_parameter_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a task parameter (JSON value), e.g. --param delay_max=30; repeatable",
    )


def _overrides(params: list[str]) -> dict[str, Any]:
    """--param NAME=VALUE items as {name: JSON value (the raw string where not JSON)}."""
    overrides = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param expects NAME=VALUE, got {item!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return overrides


def resolve_task(name: str, params: list[str]) -> TrialTask:
    """The task with its overrides, or a CommandError saying what is wrong (for the name of a
    study model too: it has no trials)."""
    from atlas.studies import study_name
    from atlas.tasks import ParameterError, UnknownTaskError, get_task

    overrides = _overrides(params)
    try:
        if name.endswith((".yaml", ".yml", ".json")):  # a declaration file (docs/tasks.md)
            from atlas.cli.task import checked
            from atlas.tasks import task_from_declaration

            return task_from_declaration(checked(Path(name)), **overrides)
        return get_task(name, **overrides)
    except UnknownTaskError as exc:
        model = study_name(name)
        if model is not None:
            raise CommandError(
                f"{name!r} names the study model {model!r}, not a task: it has no trials "
                "(train, evaluate and fixed-points take it)"
            ) from exc
        raise CommandError(str(exc)) from exc
    except (ParameterError, TypeError, ValueError) as exc:
        raise CommandError(f"bad task parameters: {exc}") from exc


def resolve_study_model(name: str, params: list[str]) -> TwoNeuronModel | None:
    """The study model `--task` names, with its overrides; None when the name is no study
    model's (it names a task: resolve_task)."""
    from atlas.studies import get_study_model, study_name
    from atlas.tasks import ParameterError

    if study_name(name) is None:
        return None
    try:
        return get_study_model(name, **_overrides(params))
    except (ParameterError, TypeError, ValueError) as exc:
        raise CommandError(f"bad model parameters: {exc}") from exc


def load_network(path: str | Path, task: TrialTask) -> dict:
    """A state dict loaded safely (weights_only, CPU) whose inputs and outputs fit the task."""
    from atlas.networks import StateDictError, infer_shape, load_state_dict

    file = Path(path)
    if not file.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        state_dict = load_state_dict(file)
    except StateDictError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    shape = infer_shape(state_dict)
    if (shape.n_inputs, shape.n_outputs) != (task.n_inputs, task.n_outputs):
        raise CommandError(
            f"{path}: the network has {shape.n_inputs} input(s) and {shape.n_outputs} "
            f"output(s); task {task.name!r} has {task.n_inputs} and {task.n_outputs}"
        )
    return state_dict


def read_two_neuron_weights(path: str | Path) -> np.ndarray:
    """An (n, 2, 2) float64 array of W from a .npy file (never unpickling); a (2, 2) array is
    one network. Anything else is a CommandError saying what is wrong."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CommandError(
            f"{path} is not a plain numeric .npy array (pickled and object data are refused)"
        ) from exc
    if not isinstance(array, np.ndarray):
        array.close()
        raise CommandError(f"{path} is an .npz archive; expected one .npy array of shape (n, 2, 2)")
    shape = array.shape
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (2, 2) or len(array) == 0:
        raise CommandError(f"{path} holds an array of shape {shape}; expected (n, 2, 2)")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise CommandError(f"{path} holds {array.dtype} values; expected real numbers")
    if not np.isfinite(array).all():
        raise CommandError(f"{path} holds NaN or infinite values")
    return array.astype(np.float64)
