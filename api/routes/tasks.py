"""`/tasks`: the task declarations, so clients learn names, channels and parameters."""

from __future__ import annotations

from fastapi import APIRouter

from api.problems import Problem
from api.schemas.tasks import TaskOut
from atlas.tasks import TASKS, UnknownTaskError, canonical_name, get_task

router = APIRouter(prefix="/tasks", tags=["tasks"])


def resolve_task_name(name: str) -> str:
    """The canonical short name of a task (aliases accepted); 404 problem when unknown."""
    try:
        return canonical_name(name)
    except UnknownTaskError as exc:
        raise Problem(404, "unknown-task", str(exc)) from exc


@router.get("", response_model=list[TaskOut], summary="All tasks and their parameters")
def list_tasks() -> list[dict]:
    return [get_task(name).describe() for name in TASKS]


@router.get(
    "/{name}",
    response_model=TaskOut,
    summary="One task by short name, long name or alias",
    responses={404: {"description": "No such task."}},
)
def read_task(name: str) -> dict:
    return get_task(resolve_task_name(name)).describe()
