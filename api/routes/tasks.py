"""`/tasks`: the task declarations (built-in and users'), and `POST /tasks` to declare one."""

from __future__ import annotations

import json
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request, Response, status

from api.auth import AUTH_RESPONSES, require_api_key
from api.deps import SessionDep, SessionsDep
from api.problems import Problem
from api.schemas.tasks import DECLARATION_EXAMPLE, TaskOut
from atlas.errors import InvalidError, NotFoundError
from atlas.store import all_tasks, declare_task, resolve_task, task_name
from atlas.studies import study_name
from atlas.tasks import UnknownTaskError, canonical_name, load_declaration

router = APIRouter(prefix="/tasks", tags=["tasks"])
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def resolve_task_name(name: str, session: SessionDep | None = None) -> str:
    """The canonical short name of a task (aliases accepted; users' tasks where a session is
    given); UnknownTaskError (404) when unknown."""
    if session is None:
        return canonical_name(name)
    return task_name(session, name)


def task_argument(name: str, session: SessionDep | None = None) -> str:
    """resolve_task_name for a task named in a query or a body, not in the path: an unknown
    one makes the request invalid (422 `unknown-task`), not a missing resource."""
    try:
        return resolve_task_name(name, session)
    except UnknownTaskError as exc:
        raise InvalidError(str(exc), slug=exc.slug, **exc.extra) from exc


@router.get("", response_model=list[TaskOut], summary="All tasks and their parameters")
def list_tasks(session: SessionDep) -> list[dict]:
    return [task.describe() for task in all_tasks(session)]


@router.get(
    "/{name}",
    response_model=TaskOut,
    summary="One task by short name, long name or alias (a user's task at its latest version)",
    responses={404: {"description": "No such task."}},
)
def read_task(name: str, session: SessionDep) -> dict:
    model = study_name(name)
    if model is not None:  # its routes live under this path, so say where they are
        raise NotFoundError(
            f"{model!r} is a study model, not a task: it has no trials. Its studies are at "
            f"/studies, its regimes at /tasks/{model}/regimes",
            slug="study-model",
        )
    return resolve_task(session, resolve_task_name(name, session)).describe()


def parse_body(content_type: str, body: bytes) -> Any:
    """The declaration as data: JSON, or YAML for a YAML media type; 400 when it does not
    parse. YAML is read with the safe loader (plain data, no Python objects)."""
    media = content_type.split(";")[0].strip().lower()
    try:
        if media in YAML_TYPES:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, RecursionError, yaml.YAMLError) as exc:
        kind = "YAML" if media in YAML_TYPES else "JSON"
        raise Problem(400, "malformed-body", f"the declaration is not valid {kind}: {exc}") from exc


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskOut,
    summary="Declare a task (JSON or YAML): checked, then stored as its next version",
    description=(
        "The body is a task declaration (see docs/tasks.md), as JSON or, with "
        "`Content-Type: application/yaml`, YAML. Every mistake is reported in one 422 "
        "problem (`errors`: one message each) and nothing is stored. A declaration whose name "
        "exists becomes that task's next version; the latest version declared again is "
        "returned unchanged (200). Jobs, analyses and types then work on it by name."
    ),
    dependencies=[Depends(require_api_key)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}, "example": DECLARATION_EXAMPLE},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    },
    responses={
        **AUTH_RESPONSES,
        200: {"description": "The same declaration is the task's latest version already."},
        409: {"description": "The name or an alias is a built-in task's or another task's."},
        422: {"description": "The declaration has mistakes: `errors` lists each."},
    },
)
async def add_task(
    request: Request, response: Response, session: SessionDep, sessions: SessionsDep
) -> dict:
    data = parse_body(request.headers.get("content-type", ""), await request.body())
    stored = declare_task(sessions, load_declaration(data))
    if not stored.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/tasks/{stored.task}"
    return resolve_task(session, stored.task).describe()
