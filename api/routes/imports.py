"""`POST /solutions/import`: bring a network trained elsewhere into the atlas.

The upload is loaded safely (tensors only: a pickle carrying code is refused, never run),
checked against the task's inputs and outputs, evaluated on the task's validation set, stored
as `source=imported` and queued for the same analyses as trained networks. Any refusal writes
nothing.

Importing is idempotent, like `POST /datasets/import`: weights the atlas already imported for
the same task variant (the same content key, atlas.store.import_network) give back that
solution with 200 and `Idempotent-Replayed: true` instead of 201, and queue nothing. The
stored solution is returned unchanged: a different `name` (or file name) on the repeat is not
applied, and the body shows the name kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile, status

from api.auth import AUTH_RESPONSES, require_api_key
from api.deps import MAX_TEXT, PRINTABLE, SessionDep, SessionsDep, SettingsDep
from api.queueing import enqueue_or_503
from api.routes.solutions import read_solution
from api.schemas.solutions import SolutionDetail
from api.uploads import (
    MAX_IMPORT_BYTES,
    upload_task,
    uploaded_state_dict,
    uploaded_validation_loss,
)
from atlas.networks import from_state_dicts
from atlas.store import fail_unqueued_analysis, import_network
from worker.dispatch import enqueue_analysis

router = APIRouter(prefix="/solutions", tags=["solutions"])


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=SolutionDetail,
    summary="Import a PyTorch state dict as a solution of a task",
    description=(
        "Multipart form: `file`, a `torch.save`d state dict of an `nn.RNN`/`nn.GRU`/`nn.LSTM` "
        "named `rnn` (batch_first, one layer) plus an `nn.Linear` named `fc` (keys "
        "`rnn.weight_ih_l0`, `rnn.weight_hh_l0`, `rnn.bias_ih_l0`, `rnn.bias_hh_l0`, "
        "`fc.weight`, `fc.bias`); `task`, the task it solves (default parameters); optionally "
        f"`name`. At most {MAX_IMPORT_BYTES // 2**20} MiB. The file is read with "
        "`weights_only=True`: anything but tensors is refused (422). Idempotent: weights "
        "already imported for the task (same tensors, dtypes and shapes, same task "
        "parameters) return that solution with 200 and `Idempotent-Replayed: true`, "
        "unchanged (a new `name` is not applied), and queue no analysis."
    ),
    dependencies=[Depends(require_api_key)],
    responses={
        **AUTH_RESPONSES,
        200: {
            "description": "These weights were imported for this task already: that solution, "
            "unchanged (its own name), with `Idempotent-Replayed: true`; nothing is queued."
        },
        413: {"description": "File too large."},
        422: {"description": "Unknown task, not a state dict, or shapes that do not fit."},
    },
)
def import_solution(
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The state dict (`torch.save` format).")],
    task: Annotated[str, Form(description="Task name or alias.", examples=["delayed"])],
    name: Annotated[
        str | None, Form(max_length=MAX_TEXT, pattern=PRINTABLE, description="A label to keep.")
    ] = None,
) -> SolutionDetail:
    trial_task = upload_task(task, session)
    state_dict = uploaded_state_dict(file.file.read(MAX_IMPORT_BYTES + 1), trial_task)
    loss = uploaded_validation_loss(from_state_dicts([state_dict]), trial_task)
    info = {"filename": file.filename} if file.filename else {}
    network_id, created = import_network(
        sessions, trial_task, state_dict, loss, name=name, info=info
    )
    if created:
        enqueue_or_503(
            lambda: enqueue_analysis(network_id, settings),
            lambda _reason: fail_unqueued_analysis(sessions, network_id),
            f"solution {network_id} was stored, but its analysis",
            solution=f"/solutions/{network_id}",
        )
    else:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/solutions/{network_id}"
    return read_solution(network_id, session)
