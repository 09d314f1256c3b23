"""Tasks by short name, long names and aliases accepted: trial tasks only (the two-neuron model
is a study model, atlas.studies).

The paper's three trial tasks are declarations (atlas/tasks/declarations/*.yaml) read at import;
users' tasks are declarations too, stored in the database: the store resolves those and builds
them here with `task_from_declaration` (this package knows no database).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from atlas.errors import NotFoundError
from atlas.tasks.base import TrialTask
from atlas.tasks.checks import load_declaration
from atlas.tasks.declaration import TaskDeclaration
from atlas.tasks.declared import DeclaredTask

PAPER_TASKS = ("delayed", "interval", "reproduction")


def paper_declaration(name: str) -> TaskDeclaration:
    """The declaration of one of the paper's tasks, checked like any user's."""
    text = (resources.files("atlas.tasks") / "declarations" / f"{name}.yaml").read_text()
    return load_declaration(yaml.safe_load(text))


TASKS: dict[str, TrialTask] = {
    name: DeclaredTask.from_declaration(paper_declaration(name)) for name in PAPER_TASKS
}
_ALIASES: dict[str, str] = {
    alias: task.name for task in TASKS.values() for alias in (task.long_name, *task.aliases)
}


class UnknownTaskError(NotFoundError, KeyError):
    """No task by that name (`args[0]`); a KeyError too, for the registry's mapping. `known`
    (extra) names the tasks there are: the built-in ones unless the store adds its own."""

    slug = "unknown-task"

    def __str__(self) -> str:
        known = self.extra.get("known", list(TASKS))
        return f"unknown task {self.args[0]!r}; known tasks: {', '.join(known)}"


def canonical_name(name: str) -> str:
    """The short name for a short name, long name or alias of a built-in task."""
    key = name.strip().lower()
    if key in TASKS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownTaskError(name)


def get_task(name: str, **overrides: Any) -> TrialTask:
    """A built-in task with its default parameters, or with the given overrides applied."""
    task = TASKS[canonical_name(name)]
    return task.with_overrides(**overrides) if overrides else task


def task_from_declaration(
    declaration: TaskDeclaration, version: int | None = None, **overrides: Any
) -> DeclaredTask:
    """A (stored, user's) declaration as a task, with the given parameter overrides."""
    task = DeclaredTask.from_declaration(declaration, version)
    return task.with_overrides(**overrides) if overrides else task
