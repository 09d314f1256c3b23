"""Uploaded state dicts for a task: the task resolved, the file's size limited, its tensors
loaded safely (`weights_only`: a pickle carrying code is refused, never run) and checked
against the task's inputs and outputs. Every refusal is a 4xx problem.

The parser meets arbitrary bytes here, so any failure to read them (a truncated zip, a
corrupted pickle: `struct.error`, `KeyError`, ... from torch's reader) is the upload's fault, a
422, never a 500. Weights that are finite in float64 but not in the float32 the atlas computes
in, and networks whose validation loss is not finite, are refused for the same reason: JSON
has no NaN to answer with.
"""

from __future__ import annotations

import math

import torch
from sqlalchemy.orm import Session

from api.problems import Problem
from api.routes.tasks import task_argument
from api.schemas.jobs import MAX_UNITS
from atlas.networks import RNNPopulation, StateDictError, infer_shape, load_state_dict
from atlas.store import resolve_task
from atlas.studies import study_name
from atlas.tasks import TrialTask, get_task
from atlas.training.evaluation import population_mse

MAX_IMPORT_BYTES = 16 * 1024 * 1024


def upload_task(name: str, session: Session | None = None) -> TrialTask:
    """The named task with its default parameters (a user's stored task at its latest version
    where a session is given); 422 when unknown, or a study model's name (no networks)."""
    model = study_name(name)
    if model is not None:
        raise Problem(
            422, "invalid-task", f"{model!r} is a study model: it has no recurrent networks"
        )
    if session is None:
        return get_task(task_argument(name))
    return resolve_task(session, task_argument(name, session))


def _parsed(payload: bytes) -> dict[str, torch.Tensor]:
    try:
        return load_state_dict(payload)
    except StateDictError:
        raise
    except Exception as exc:  # torch's reader on arbitrary bytes: its failures are not listed
        raise StateDictError(
            f"not a readable PyTorch state dict ({type(exc).__name__}: the file is truncated "
            "or corrupted)"
        ) from exc


def uploaded_state_dict(payload: bytes, task: TrialTask) -> dict[str, torch.Tensor]:
    """The state dict in `payload` (at most MAX_IMPORT_BYTES + 1 bytes read), if it is one
    that fits `task`."""
    if len(payload) > MAX_IMPORT_BYTES:
        raise Problem(413, "file-too-large", f"state dicts are limited to {MAX_IMPORT_BYTES} bytes")
    if not payload:
        raise Problem(422, "invalid-state-dict", "the uploaded file is empty")
    state_dict = _parsed(payload)
    for key, value in state_dict.items():
        if not torch.isfinite(value).all():
            raise Problem(
                422, "invalid-state-dict", f"{key} overflows float32 (values beyond 3.4e38)"
            )
    shape = infer_shape(state_dict)
    if (shape.n_inputs, shape.n_outputs) != (task.n_inputs, task.n_outputs):
        raise Problem(
            422,
            "shape-mismatch",
            f"task {task.name!r} has {task.n_inputs} inputs and {task.n_outputs} outputs; "
            f"the network has {shape.n_inputs} and {shape.n_outputs}",
        )
    if shape.units > MAX_UNITS:
        raise Problem(
            422,
            "network-too-large",
            f"the network has {shape.units} units; the atlas holds networks of up to {MAX_UNITS}",
        )
    return state_dict


def uploaded_validation_loss(population: RNNPopulation, task: TrialTask) -> float:
    """The uploaded network's validation MSE on `task`; 422 where it is not a finite number
    (weights so large that the outputs overflow)."""
    loss = float(population_mse(population, task.validation_set())[0])
    if not math.isfinite(loss):
        raise Problem(
            422,
            "invalid-state-dict",
            f"the network's validation loss on {task.name!r} is {loss}: its outputs overflow",
        )
    return loss
