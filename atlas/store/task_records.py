"""Task rows, and the tasks users declared: stored versioned, found by name like built-in ones.

The science layer (atlas.tasks) knows the paper's tasks and builds a task from any declaration;
it knows no database. Here a name is resolved: a built-in task (name or alias) first, else the
stored declaration of that name, at the version the parameters name (`version`, default the
latest). Everything above the store that turns a recorded task name into a task (jobs, the
worker's analyses, types, the API) resolves it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atlas.errors import ConflictError
from atlas.store.models import TaskDeclarationRow, TaskRecord
from atlas.studies import study_name
from atlas.tasks import (
    TASKS,
    DeclaredTask,
    Task,
    TaskDeclaration,
    TrialTask,
    UnknownTaskError,
    canonical_name,
    get_task,
    task_from_declaration,
)
from atlas.tasks.declared import VERSION


class TaskNameTaken(ConflictError, ValueError):
    """A declared task whose name (or alias) is a built-in task's, a study model's, or another
    task's alias."""

    slug = "task-name-taken"


def ensure_task(session: Session, task: Task) -> TaskRecord:
    """The row for `task`'s name, inserting it (race-safe) with the default parameters."""
    record = session.get(TaskRecord, task.name)
    if record is not None:
        return record
    if isinstance(task, DeclaredTask) and task.version is not None:
        default = DeclaredTask.from_declaration(task.declaration, task.version).describe()
    else:
        default = get_task(task.name).describe()
    record = TaskRecord(
        name=task.name,
        long_name=default["long_name"],
        kind=default["kind"],
        description=default["description"],
        parameters=default["parameters"],
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        record = session.get(TaskRecord, task.name)
        if record is None:
            raise
    return record


# ---------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class StoredDeclaration:
    """One stored version of a user's task."""

    task: str
    version: int
    declaration: TaskDeclaration
    created: bool


def _as_json(declaration: TaskDeclaration) -> dict[str, Any]:
    return declaration.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def _latest_row(session: Session, name: str) -> TaskDeclarationRow | None:
    return session.scalars(
        select(TaskDeclarationRow)
        .where(TaskDeclarationRow.task == name)
        .order_by(TaskDeclarationRow.version.desc())
        .limit(1)
    ).one_or_none()


def _check_names(session: Session, declaration: TaskDeclaration) -> None:
    for name in (declaration.name, *declaration.aliases):
        try:
            built_in = canonical_name(name)
        except UnknownTaskError:
            continue
        raise TaskNameTaken(f"{name!r} names the built-in task {built_in!r}; choose another name")
    for name in (declaration.name, *declaration.aliases):
        model = study_name(name)
        if model is not None:
            raise TaskNameTaken(f"{name!r} names the study model {model!r}; choose another name")
    for alias in declaration.aliases:
        owner = user_task_name(session, alias)
        if owner is not None and owner != declaration.name:
            raise TaskNameTaken(f"alias {alias!r} already names the task {owner!r}")


def add_declaration(session: Session, declaration: TaskDeclaration) -> StoredDeclaration:
    """Store a checked declaration as the task's next version (1 for a new task).

    Declaring the latest version again stores nothing and returns it (`created` False), so a
    retried request makes no second version.
    """
    _check_names(session, declaration)
    latest = _latest_row(session, declaration.name)
    if latest is not None and latest.declaration == _as_json(declaration):
        return StoredDeclaration(declaration.name, latest.version, declaration, False)
    version = 1 if latest is None else latest.version + 1
    ensure_task(session, task_from_declaration(declaration, version))
    row = TaskDeclarationRow(
        task=declaration.name, version=version, declaration=_as_json(declaration)
    )
    session.add(row)
    session.flush()
    return StoredDeclaration(declaration.name, version, declaration, True)


def stored_declaration(
    session: Session, name: str, version: int | None = None
) -> StoredDeclaration | None:
    """A user's task at `version` (default: the latest), or None."""
    if version is None:
        row = _latest_row(session, name)
    else:
        row = session.scalars(
            select(TaskDeclarationRow).where(
                TaskDeclarationRow.task == name, TaskDeclarationRow.version == version
            )
        ).one_or_none()
    if row is None:
        return None
    declaration = TaskDeclaration.model_validate(row.declaration)
    return StoredDeclaration(row.task, row.version, declaration, False)


def user_task_name(session: Session, name: str) -> str | None:
    """The name of the user's task a name or alias refers to, or None."""
    key = name.strip().lower()
    if session.scalar(select(func.count()).where(TaskDeclarationRow.task == key)):
        return key
    for task in user_tasks(session):
        if key == task.long_name.lower() or key in (a.lower() for a in task.aliases):
            return task.name
    return None


def user_tasks(session: Session) -> list[DeclaredTask]:
    """The latest version of every user's task, by name."""
    latest = (
        select(TaskDeclarationRow.task, func.max(TaskDeclarationRow.version).label("version"))
        .group_by(TaskDeclarationRow.task)
        .subquery()
    )
    rows = session.scalars(
        select(TaskDeclarationRow)
        .join(
            latest,
            (TaskDeclarationRow.task == latest.c.task)
            & (TaskDeclarationRow.version == latest.c.version),
        )
        .order_by(TaskDeclarationRow.task)
    ).all()
    return [
        DeclaredTask.from_declaration(TaskDeclaration.model_validate(r.declaration), r.version)
        for r in rows
    ]


# ---------------------------------------------------------------------------- resolution


def _unknown(session: Session, name: str) -> UnknownTaskError:
    """The error for a name that is no task, listing the built-in and the users' tasks."""
    stored = session.scalars(select(TaskDeclarationRow.task).distinct().order_by("task"))
    return UnknownTaskError(name, known=[*TASKS, *stored])


def task_name(session: Session, name: str) -> str:
    """The canonical name of a built-in or user's task; UnknownTaskError when neither."""
    try:
        return canonical_name(name)
    except UnknownTaskError:
        found = user_task_name(session, name)
        if found is None:
            raise _unknown(session, name) from None
        return found


def resolve_task(session: Session, name: str, **parameters: Any) -> TrialTask:
    """The task a name and parameters denote, built-in or stored (at the `version` parameter,
    default the latest); UnknownTaskError or ParameterError when there is none."""
    try:
        return get_task(name, **parameters)
    except UnknownTaskError:
        pass
    found_name = user_task_name(session, name)
    version = parameters.pop(VERSION, None)
    stored = None if found_name is None else stored_declaration(session, found_name, version)
    if stored is None:
        if found_name is not None:
            raise UnknownTaskError(f"{name} version {version}")
        raise _unknown(session, name)
    return task_from_declaration(stored.declaration, stored.version, **parameters)


def all_tasks(session: Session) -> list[TrialTask]:
    """The built-in tasks, then the latest version of each user's task."""
    return [*TASKS.values(), *user_tasks(session)]
