"""Uploaded state dicts for a task: the task resolved, the file's size limited, its tensors
loaded safely (`weights_only`: a pickle carrying code is refused, never run) and checked
against the task's inputs and outputs. Every refusal is a 4xx problem."""

from __future__ import annotations

import torch

from api.problems import Problem
from api.routes.tasks import resolve_task_name
from atlas.networks import StateDictError, infer_shape, load_state_dict
from atlas.tasks import TrialTask, get_task

MAX_IMPORT_BYTES = 16 * 1024 * 1024


def upload_task(name: str) -> TrialTask:
    """The named task with its default parameters; 422 when unknown or without networks."""
    try:
        task = get_task(resolve_task_name(name))
    except Problem as exc:
        raise Problem(422, "unknown-task", exc.detail) from exc
    if not isinstance(task, TrialTask):
        raise Problem(422, "invalid-task", f"task {task.name!r} has no recurrent networks")
    return task


def uploaded_state_dict(payload: bytes, task: TrialTask) -> dict[str, torch.Tensor]:
    """The state dict in `payload` (at most MAX_IMPORT_BYTES + 1 bytes read), if it is one
    that fits `task`."""
    if len(payload) > MAX_IMPORT_BYTES:
        raise Problem(413, "file-too-large", f"state dicts are limited to {MAX_IMPORT_BYTES} bytes")
    try:
        state_dict = load_state_dict(payload)
    except StateDictError as exc:
        raise Problem(422, "invalid-state-dict", str(exc)) from exc
    shape = infer_shape(state_dict)
    if (shape.n_inputs, shape.n_outputs) != (task.n_inputs, task.n_outputs):
        raise Problem(
            422,
            "shape-mismatch",
            f"task {task.name!r} has {task.n_inputs} inputs and {task.n_outputs} outputs; "
            f"the network has {shape.n_inputs} and {shape.n_outputs}",
        )
    return state_dict
