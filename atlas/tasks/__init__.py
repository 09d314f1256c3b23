"""Task declarations: trial sets, validation, probes beyond training, graph input events."""

from atlas.tasks.base import InputEvent, ParameterError, Task, TrialSet, TrialTask
from atlas.tasks.checks import DeclarationError, load_declaration
from atlas.tasks.declaration import TaskDeclaration
from atlas.tasks.declared import DeclaredTask
from atlas.tasks.registry import (
    TASKS,
    UnknownTaskError,
    canonical_name,
    get_task,
    task_from_declaration,
)
from atlas.tasks.variants import DEFAULT_VARIANT, variant_key

__all__ = [
    "DEFAULT_VARIANT",
    "TASKS",
    "DeclarationError",
    "DeclaredTask",
    "InputEvent",
    "ParameterError",
    "Task",
    "TaskDeclaration",
    "TrialSet",
    "TrialTask",
    "UnknownTaskError",
    "canonical_name",
    "get_task",
    "load_declaration",
    "task_from_declaration",
    "variant_key",
]
