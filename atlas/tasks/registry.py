"""Tasks by short name, long names and aliases accepted."""

from __future__ import annotations

from typing import Any

from atlas.tasks.base import Task
from atlas.tasks.delayed import DelayedDiscrimination
from atlas.tasks.interval import IntervalDiscrimination
from atlas.tasks.reproduction import IntervalReproduction
from atlas.tasks.two_neuron import TwoNeuron

TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (DelayedDiscrimination, IntervalDiscrimination, IntervalReproduction, TwoNeuron)
}
_ALIASES: dict[str, str] = {
    alias: cls.name for cls in TASKS.values() for alias in (cls.long_name, *cls.aliases)
}


class UnknownTaskError(KeyError):
    def __str__(self) -> str:
        return f"unknown task {self.args[0]!r}; known tasks: {', '.join(TASKS)}"


def canonical_name(name: str) -> str:
    """The short name for a short name, long name or alias."""
    key = name.strip().lower()
    if key in TASKS:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    raise UnknownTaskError(name)


def get_task(name: str, **overrides: Any) -> Task:
    """The task with its default parameters, or with the given overrides applied."""
    task = TASKS[canonical_name(name)]()
    return task.with_overrides(**overrides) if overrides else task
