"""What a declaration means, checked: one message per mistake, each naming where it is.

The structure (fields, types) is pydantic's job; here: names that exist (channels, periods,
events, parameters, trial variables), expressions that parse, periods inside every trial and
apart from one another, trial sets neither empty nor too large to train, feature windows that
pick one validation trial each. Checks run on the declared sets' actual trials, so a period
that overlaps the next one only for the longest delay is found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from atlas.errors import InvalidError
from atlas.tasks.declaration import (
    FEATURE_WINDOWS,
    DecisionSignature,
    StimulusSpec,
    TaskDeclaration,
    ValueRange,
    VariableValues,
)
from atlas.tasks.expressions import ExpressionError, evaluate, names_in
from atlas.tasks.graph_protocol import BEFORE_RISE, END
from atlas.tasks.trial_sets import (
    STANDARD_SETS,
    period_timing,
    set_columns,
    set_spec,
    set_trial_length,
)

if TYPE_CHECKING:
    from atlas.tasks.declared import DeclaredTask

MAX_TRAINING_TRIALS = 20_000
MAX_TRAINING_STEPS = 2_000_000
"""A training set beyond these (trials, trials x steps) is too large to train a population on
in the atlas's batched trainer; the paper's largest is 1440 trials x 60 steps."""
MAX_PROBE_STEPS = 10_000_000
"""Probe sets are run for every network in one pass; beyond this they do not fit in memory."""


class DeclarationError(InvalidError):
    """A declaration with mistakes: `problems` holds one message per mistake."""

    slug = "invalid-declaration"

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), errors=problems)
        self.problems = problems

    @property
    def detail(self) -> str:
        return f"the declaration has {len(self.problems)} mistake(s): {self}"


def load_declaration(data: Any) -> TaskDeclaration:
    """A checked declaration from parsed JSON/YAML; DeclarationError lists every mistake."""
    if not isinstance(data, dict):
        raise DeclarationError(["a declaration is a mapping of fields (name, inputs, ...)"])
    try:
        declaration = TaskDeclaration.model_validate(data)
    except ValidationError as error:
        raise DeclarationError(
            [f"{'.'.join(map(str, e['loc'])) or 'declaration'}: {e['msg']}" for e in error.errors()]
        ) from None
    problems = declaration_problems(declaration)
    if problems:
        raise DeclarationError(problems)
    return declaration


# ---------------------------------------------------------------------------- names


def _expressions(declaration: TaskDeclaration) -> Iterator[tuple[str, Any, set[str]]]:
    """Every expression with where it is and the trial variables it may read there."""
    variables = _variables(declaration)
    for i, c in enumerate(declaration.constraints):
        yield f"constraints[{i}].require", c.require, set()
    yield "trial_length", declaration.trial_length, set()
    for i, p in enumerate(declaration.periods):
        where = f"periods[{i}] ({p.name})"
        for field in ("onset", "duration"):
            if getattr(p, field) is not None:
                yield f"{where}.{field}", getattr(p, field), variables
        for kind in ("inputs", "targets"):
            for channel, value in getattr(p, kind).items():
                yield f"{where}.{kind}.{channel}", value, variables
    for name in (*STANDARD_SETS, *declaration.probes):
        spec = declaration.probes.get(name) or getattr(declaration, name)
        if spec.grid:
            yield from _value_expressions(f"{name}.grid", spec.grid, set())
        if spec.sample:
            yield f"{name}.sample.seed", spec.sample.seed, set()
            yield f"{name}.sample.count", spec.sample.count, set()
            for var, r in spec.sample.draw.items():
                yield from _value_expressions(f"{name}.sample.draw", {var: r}, set())
        if spec.where is not None:
            yield f"{name}.where", spec.where, variables
        if spec.trial_length is not None:
            yield f"{name}.trial_length", spec.trial_length, variables
    for name, event in declaration.events.items():
        yield f"events.{name}.duration", event.duration, set()
        for channel, value in event.inputs.items():
            yield f"events.{name}.inputs.{channel}", value, set()
    if declaration.graph is not None:
        for i, segment in enumerate(declaration.graph.start):
            if segment.silent is not None:
                yield f"graph.start[{i}].silent", segment.silent, set()
        if declaration.graph.start_lace_steps is not None:
            yield "graph.start_lace_steps", declaration.graph.start_lace_steps, set()
        for where, stimulus in _stimuli(declaration.graph.stimuli, "graph.stimuli"):
            yield f"{where}.settle", stimulus.settle, set()
            if stimulus.lace_steps is not None:
                yield f"{where}.lace_steps", stimulus.lace_steps, set()
            for position in stimulus.at:
                if position not in (END, BEFORE_RISE):
                    yield f"{where}.at", position, set()
    if declaration.features is not None:
        for group, windows in declaration.features.windows.items():
            for i, w in enumerate(windows):
                where = f"features.windows.{group}[{i}]"
                yield from _value_expressions(f"{where}.select", w.select, set())
                for field in ("where", "start", "stop"):
                    if getattr(w, field) is not None:
                        yield f"{where}.{field}", getattr(w, field), set(w.select)
    signature = declaration.signature
    if isinstance(signature, DecisionSignature):
        for var, (low, high) in signature.trained.items():
            yield f"signature.trained.{var}", low, set()
            yield f"signature.trained.{var}", high, set()
        if signature.accuracy_by is not None:
            yield "signature.accuracy_by.trained", signature.accuracy_by.trained, set()
    elif signature is not None:
        for value in signature.trained:
            yield "signature.trained", value, set()


def _value_expressions(
    where: str, values: dict[str, VariableValues], variables: set[str]
) -> Iterator[tuple[str, Any, set[str]]]:
    for var, spec in values.items():
        if isinstance(spec, ValueRange):
            for value in (spec.from_, spec.to, spec.step, *spec.include):
                yield f"{where}.{var}", value, variables
        elif isinstance(spec, list):
            for value in spec:
                yield f"{where}.{var}", value, variables
        else:
            yield f"{where}.{var}", spec, variables


def _stimuli(stimuli: list[StimulusSpec], where: str) -> Iterator[tuple[str, StimulusSpec]]:
    for i, stimulus in enumerate(stimuli):
        yield f"{where}[{i}]", stimulus
        yield from _stimuli(stimulus.then, f"{where}[{i}].then")


def _variables(declaration: TaskDeclaration) -> set[str]:
    """The trial variables the sets define."""
    names: set[str] = set()
    for spec in (declaration.training, declaration.validation, *declaration.probes.values()):
        names |= set(spec.grid or {}) | set(spec.sample.draw if spec.sample else {})
    return names


def _name_problems(declaration: TaskDeclaration) -> list[str]:
    problems = []
    parameters = set(declaration.parameters) | {"trial_length"}
    for kind, names in (
        ("input channel", declaration.inputs),
        ("output", declaration.outputs),
        ("period", [p.name for p in declaration.periods]),
    ):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"{kind} names must differ: {', '.join(twice)} given twice")
    clash = sorted(_variables(declaration) & set(declaration.parameters))
    if clash:
        problems.append(f"trial variables {clash} have the names of parameters")
    for where, expression, variables in _expressions(declaration):
        try:
            unknown = sorted(names_in(expression) - parameters - variables)
        except ExpressionError as error:
            problems.append(f"{where}: {error}")
            continue
        if unknown:
            known = sorted(parameters | variables)
            problems.append(f"{where}: unknown name(s) {unknown}; known here: {known}")
    for i, p in enumerate(declaration.periods):
        for kind, channels, label in (
            ("inputs", declaration.inputs, "input channel"),
            ("targets", declaration.outputs, "output"),
        ):
            for channel in getattr(p, kind):
                if channel not in channels:
                    problems.append(
                        f"periods[{i}] ({p.name}).{kind}: unknown {label} {channel!r}; "
                        f"declared: {channels}"
                    )
    for name, event in declaration.events.items():
        for channel in event.inputs:
            if channel not in declaration.inputs:
                problems.append(
                    f"events.{name}.inputs: unknown input channel {channel!r}; "
                    f"declared: {declaration.inputs}"
                )
    return problems


def _reference_problems(declaration: TaskDeclaration) -> list[str]:
    """Sets, events, periods and variables named by other parts must exist."""
    problems = []
    sets = {*STANDARD_SETS, *declaration.probes}
    periods = [p.name for p in declaration.periods]
    for name in sets:
        spec = declaration.probes.get(name) or getattr(declaration, name)
        sources = [spec.grid is not None, spec.sample is not None, spec.from_set is not None]
        if sum(sources) != 1:
            problems.append(f"{name}: give exactly one of grid, sample or from_set")
        if spec.from_set is not None and spec.from_set not in sets:
            problems.append(
                f"{name}.from_set: no trial set {spec.from_set!r}; sets: {sorted(sets)}"
            )
    if declaration.graph is not None:
        graph = declaration.graph
        used = [(w, s.event) for w, s in _stimuli(graph.stimuli, "graph.stimuli")]
        used += [(f"graph.start[{i}]", s.event) for i, s in enumerate(graph.start) if s.event]
        used += [("graph.response_events", e) for e in graph.response_events]
        for where, event in used:
            if event not in declaration.events:
                problems.append(
                    f"{where}: unknown event {event!r}; events: {sorted(declaration.events)}"
                )
        for i, segment in enumerate(graph.start):
            if (segment.silent is None) == (segment.event is None):
                problems.append(f"graph.start[{i}]: give either silent (steps) or event")
    if declaration.features is not None:
        expected = FEATURE_WINDOWS[declaration.features.kind]
        if set(declaration.features.windows) != set(expected):
            problems.append(
                f"features.windows: the {declaration.features.kind} features measure the "
                f"windows {list(expected)}, not {sorted(declaration.features.windows)}"
            )
    signature = declaration.signature
    if signature is not None:
        probes = [signature.probe, signature.long_run]
        if isinstance(signature, DecisionSignature):
            period, variables = signature.response_period, [*signature.axes, *signature.trained]
            if signature.accuracy_by is not None:
                probes.append(signature.accuracy_by.probe)
            if set(signature.trained) != set(signature.axes):
                problems.append("signature.trained: give the trained range of each axis")
        else:
            period, variables = signature.from_period, [signature.interval]
        for probe in probes:
            if probe not in sets:
                problems.append(f"signature: no trial set {probe!r}; sets: {sorted(sets)}")
        if period not in periods:
            problems.append(f"signature: no period {period!r}; periods: {periods}")
        unknown = sorted(set(variables) - _variables(declaration))
        if unknown:
            problems.append(f"signature: unknown trial variable(s) {unknown}")
    return problems


# ---------------------------------------------------------------------------- trials


def trial_problems(task: DeclaredTask) -> list[str]:
    """Sets that are empty or too large, periods outside a trial or overlapping another."""
    declaration, names = task.declaration, task.names()
    problems: list[str] = []
    failed: set[str] = set()
    period_messages: dict[str, str] = {}
    for name in (*STANDARD_SETS, *declaration.probes):
        source = set_spec(declaration, name).from_set
        if source in failed:  # said once, for the set it comes from
            failed.add(name)
            continue
        failed.add(name)
        try:
            columns = set_columns(declaration, name, names)
            count = len(next(iter(columns.values()))) if columns else 0
            length = set_trial_length(declaration, name, columns, names)
        except (ArithmeticError, ExpressionError, KeyError, TypeError, ValueError) as error:
            problems.append(f"{name}: cannot make its trials ({error})")
            continue
        if count == 0:
            problems.append(f"{name}: the set has no trials")
            continue
        failed.discard(name)
        if name == "training" and (
            count > MAX_TRAINING_TRIALS or count * length > MAX_TRAINING_STEPS
        ):
            problems.append(
                f"training: the grid is too large to train: {count} trials of {length} steps; "
                f"at most {MAX_TRAINING_TRIALS} trials and {MAX_TRAINING_STEPS} trial steps"
            )
            failed.add(name)
        if name != "training" and count * length > MAX_PROBE_STEPS:
            problems.append(
                f"{name}: the set is too large: {count} trials of {length} steps; "
                f"at most {MAX_PROBE_STEPS} trial steps"
            )
        if count * length > MAX_PROBE_STEPS:
            continue  # too large to look at trial by trial
        if name in STANDARD_SETS:
            for key, message in _period_problems(task, name, columns, count, length):
                period_messages.setdefault(key, message)
    return problems + list(period_messages.values())


def _period_problems(
    task: DeclaredTask, name: str, columns: dict, count: int, length: int
) -> list[tuple[str, str]]:
    """(what, message) per mistake in the set's period timing; `what` lets a mistake found in
    both the training and the validation set be said once."""
    try:
        timing = period_timing(task.declaration.periods, columns, task.names(), count)
    except (ArithmeticError, ExpressionError, TypeError, ValueError) as error:
        return [("timing", f"{name}: cannot time its periods ({error})")]

    def example(index: np.ndarray) -> str:
        first = int(np.flatnonzero(index)[0])
        values = ", ".join(f"{k}={v[first]}" for k, v in columns.items())
        return f" (e.g. the trial with {values})" if values else ""

    problems: list[tuple[str, str]] = []
    periods = task.declaration.periods
    for p in periods:
        onset, duration = timing[p.name]
        what = "target" if p.targets else "period"
        if (duration < 1).any():
            message = f"{name}: period {p.name!r} lasts less than one step"
            problems.append((f"short {p.name}", message + example(duration < 1)))
        if (onset < 0).any():
            message = f"{name}: {what} {p.name!r} starts before the trial"
            problems.append((f"early {p.name}", message + example(onset < 0)))
        late = onset + duration > length
        if late.any():
            message = (
                f"{name}: {what} {p.name!r} ends after the trial's {length} steps (at step "
                f"{int((onset + duration).max())})"
            )
            problems.append((f"late {p.name}", message + example(late)))
    for i, a in enumerate(periods):
        for b in periods[i + 1 :]:
            (a0, ad), (b0, bd) = timing[a.name], timing[b.name]
            overlap = (a0 < b0 + bd) & (b0 < a0 + ad) & (ad > 0) & (bd > 0)
            if overlap.any():
                message = f"{name}: periods {a.name!r} and {b.name!r} overlap"
                problems.append((f"overlap {a.name} {b.name}", message + example(overlap)))
    return problems


def window_problems(task: DeclaredTask) -> list[str]:
    """Each feature window must pick one validation trial and lie inside it (a parameter
    variant may lack a window's trials: `delayed` with no delay has no delay period)."""
    from atlas.tasks.windows import feature_windows

    try:
        feature_windows(task, task.validation_set())
    except (ArithmeticError, ExpressionError, KeyError, TypeError, ValueError) as error:
        return [f"features: {error}"]
    return []


def _constraint_problems(task: DeclaredTask) -> list[str]:
    problems = []
    for i, constraint in enumerate(task.declaration.constraints):
        try:
            held = bool(evaluate(constraint.require, task.names()))
        except (ArithmeticError, ExpressionError, TypeError, ValueError) as error:
            problems.append(f"constraints[{i}]: {error}")
            continue
        if not held:
            problems.append(
                constraint.message or f"the parameters must satisfy {constraint.require}"
            )
    return problems


def _guarded(check: Callable[[], list[str]], what: str) -> list[str]:
    try:
        return check()
    except (ArithmeticError, ExpressionError, KeyError, TypeError, ValueError) as error:
        return [f"{what}: {error}"]


def parameter_problems(task: DeclaredTask) -> list[str]:
    """Constraints the parameter values break, then the trials they would make."""
    problems = _guarded(lambda: _constraint_problems(task), "constraints")
    return problems or _guarded(lambda: trial_problems(task), "trials")


def declaration_problems(declaration: TaskDeclaration) -> list[str]:
    """Every mistake in a structurally valid declaration, one message each."""
    from atlas.tasks.declared import DeclaredTask

    problems = _name_problems(declaration) + _reference_problems(declaration)
    if problems:
        return problems
    task = DeclaredTask.from_declaration(declaration)
    problems = parameter_problems(task)
    if problems:
        return problems
    if declaration.features is not None:
        problems += window_problems(task)
    problems += _guarded(lambda: _builds(task.input_events), "events")
    if declaration.graph is not None and not problems:  # the graph applies the events
        problems += _guarded(lambda: _builds(task.graph_protocol), "graph")
    return problems


def _builds(build: Callable[[], Any]) -> list[str]:
    build()
    return []
