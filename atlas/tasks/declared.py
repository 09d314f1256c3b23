"""A trial task made from a declaration: the paper's tasks and users' tasks alike.

`DeclaredTask` is the one TrialTask implementation. It holds the declaration and the parameter
values in force (the declaration's defaults with any overrides), and answers everything the
atlas asks of a task from the declaration: trial sets, probes, period timing, input events,
output labels, the graph protocol. Parameters read as attributes (`task.ts_max`), as they did
when each task was a class of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas.tasks.base import InputEvent, ParameterError, TrialSet, TrialTask
from atlas.tasks.declaration import TaskDeclaration
from atlas.tasks.expressions import evaluate
from atlas.tasks.graph_protocol import GraphProtocol, declared_steps, protocol_from
from atlas.tasks.trial_sets import (
    build_trials,
    period_timing,
    set_columns,
    set_trial_length,
)

VERSION = "version"
"""The parameter that names which stored version of a user's declaration a network solves."""


@dataclass(frozen=True, eq=False)
class DeclaredTask(TrialTask):
    """A declaration with its parameter values; `version` is set for stored user tasks."""

    declaration: TaskDeclaration
    values: dict[str, int | float]
    version: int | None = None

    @classmethod
    def from_declaration(cls, declaration: TaskDeclaration, version: int | None = None):
        return cls(declaration, dict(declaration.parameters), version)

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.declaration.name

    @property
    def long_name(self) -> str:  # type: ignore[override]
        return self.declaration.long_name or self.declaration.name

    @property
    def aliases(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.declaration.aliases)

    @property
    def description(self) -> str:  # type: ignore[override]
        return self.declaration.description

    @property
    def input_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.declaration.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.declaration.outputs)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"task has no parameter or attribute {name!r}")

    # ------------------------------------------------------------------ parameters

    def parameters(self) -> dict[str, Any]:
        """The parameter values; a stored user task adds the declaration's version."""
        version = {} if self.version is None else {VERSION: self.version}
        return {**self.values, **version}

    def with_overrides(self, **overrides: Any) -> DeclaredTask:
        """A copy with some parameters replaced; unknown names and non-numbers raise
        ParameterError, and so do values the declaration's constraints or trials refuse."""
        if VERSION in overrides and overrides.pop(VERSION) != self.version:
            raise ParameterError(
                f"task {self.name!r} is version {self.version}; the version is chosen "
                "where the stored declaration is looked up"
            )
        unknown = sorted(set(overrides) - set(self.values))
        if unknown:
            raise ParameterError(
                f"task {self.name!r} has no parameter {', '.join(unknown)}; its parameters: "
                f"{', '.join(sorted(self.values))}"
            )
        values = dict(self.values)
        for name, value in overrides.items():
            values[name] = _parameter_value(name, value, self.values[name])
        task = DeclaredTask(self.declaration, values, self.version)
        task.validate()
        return task

    def names(self) -> dict[str, Any]:
        """What expressions may read: the parameters and the task's trial length."""
        names: dict[str, Any] = dict(self.values)
        names.setdefault("trial_length", int(evaluate(self.declaration.trial_length, names)))
        return names

    def validate(self) -> None:
        """Raise ParameterError naming every constraint or trial check the values fail."""
        from atlas.tasks.checks import parameter_problems

        problems = parameter_problems(self)
        if problems:
            raise ParameterError(f"task {self.name!r}: " + "; ".join(problems))

    # ------------------------------------------------------------------ trials

    def trial_set(self, name: str) -> TrialSet:
        """A named set: `training`, `validation` or one of the probes."""
        names = self.names()
        columns = set_columns(self.declaration, name, names)
        length = set_trial_length(self.declaration, name, columns, names)
        return build_trials(self.declaration, columns, length, names)

    def trials(self, conditions: dict[str, np.ndarray], trial_length: int | None = None):
        """Trials for given trial variables (say, from a set's `conditions`)."""
        names = self.names()
        length = names["trial_length"] if trial_length is None else trial_length
        return build_trials(self.declaration, conditions, length, names)

    def timing(self, conditions: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, ...]]:
        """Each period's (onset, duration) per trial of the given variables."""
        count = len(next(iter(conditions.values())))
        return period_timing(self.declaration.periods, conditions, self.names(), count)

    def period_target(self, period: str, conditions: dict[str, np.ndarray]) -> np.ndarray:
        """The first output's target value in a period, per trial (zero where none is set)."""
        (found,) = (p for p in self.declaration.periods if p.name == period)
        expression = found.targets.get(self.declaration.outputs[0], 0)
        count = len(next(iter(conditions.values())))
        value = evaluate(expression, {**self.names(), **conditions})
        return np.broadcast_to(np.asarray(value), count)

    def training_set(self) -> TrialSet:
        return self.trial_set("training")

    def validation_set(self) -> TrialSet:
        return self.trial_set("validation")

    def probes(self) -> dict[str, TrialSet]:
        return {name: self.trial_set(name) for name in self.declaration.probes}

    # ------------------------------------------------------------------ graph

    def input_events(self) -> dict[str, InputEvent]:
        names = self.names()
        events = {}
        for name, spec in self.declaration.events.items():
            step = tuple(
                float(evaluate(spec.inputs[channel], names)) if channel in spec.inputs else 0.0
                for channel in self.declaration.inputs
            )
            duration = declared_steps(spec.duration, names, f"events.{name}.duration")
            events[name] = InputEvent(name, spec.edge_type, (step,) * duration)
        return events

    def output_label(self, output: np.ndarray) -> np.ndarray:
        label = self.declaration.output_label
        if label.kind == "threshold":
            return (np.asarray(output) > label.above).astype(int)
        return np.sign(np.round(output)).astype(int)

    def graph_protocol(self) -> GraphProtocol:
        if self.declaration.graph is None:
            raise NotImplementedError(f"task {self.name!r} declares no graph")
        return protocol_from(self.declaration.graph, self.names(), self.input_events())

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "version": self.version,
            "declaration": self.declaration.model_dump(
                mode="json", by_alias=True, exclude_defaults=True
            ),
        }


def _parameter_value(name: str, value: Any, default: int | float) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"parameter {name!r} must be a number, not {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        if not float(value).is_integer():
            raise ParameterError(f"parameter {name!r} is a whole number, not {value!r}")
        return int(value)
    return value
