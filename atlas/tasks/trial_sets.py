"""From a declaration's set specs to trial variables, period timing and trial tensors.

Everything here is vectorised over trials: a set is a table of trial variables (one array per
variable), each period's onset and duration are arrays over that table, and the input and
target tensors are filled by masks. The value order follows the declaration exactly (the grid's
first variable varies slowest, samples are drawn variable after variable from one generator),
so that a declaration reproduces the hand-written trial sets it replaced bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from atlas.tasks.base import TrialSet
from atlas.tasks.declaration import (
    Period,
    TaskDeclaration,
    TrialSetSpec,
    ValueRange,
    VariableValues,
)
from atlas.tasks.expressions import evaluate

Names = Mapping[str, Any]
STANDARD_SETS = ("training", "validation")
MAX_TRIALS = 2_000_000
"""Trials any set may hold (values of a range, combinations of a grid, draws of a sample):
a guard against declarations that would exhaust memory before their size is even checked."""


def _count(count: Any, what: str) -> int:
    if not _integral(count) or not 0 <= count <= MAX_TRIALS:
        raise ValueError(f"{what} of {count} values; at most {MAX_TRIALS}")
    return int(count)


def _integral(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def value_array(spec: VariableValues, names: Names) -> np.ndarray:
    """The values one trial variable takes (a range is inclusive of `to`)."""
    if isinstance(spec, ValueRange):
        start, stop, step = (evaluate(x, names) for x in (spec.from_, spec.to, spec.step))
        if not step > 0:
            raise ValueError(f"a range needs a positive step, not {step}")
        _count(max(0, int((stop - start) // step) + 1), "a range")
        if all(_integral(x) for x in (start, stop, step)):
            values = np.arange(start, stop + 1, step)
        else:
            values = np.arange(start, stop + step / 2, step)
        if spec.include:
            extra = np.array([evaluate(x, names) for x in spec.include])
            values = np.unique(np.concatenate([values, extra]))
        return values
    if isinstance(spec, list):
        return np.array([evaluate(x, names) for x in spec])
    return np.array([evaluate(spec, names)])


def grid_columns(grid: Mapping[str, VariableValues], names: Names) -> dict[str, np.ndarray]:
    """Every combination of the variables' values, the first varying slowest."""
    axes = [value_array(spec, names) for spec in grid.values()]
    _count(int(np.prod([len(a) for a in axes], dtype=float)), "a grid")
    mesh = np.meshgrid(*axes, indexing="ij") if axes else []
    return {name: m.ravel() for name, m in zip(grid, mesh, strict=True)}


def keep_where(
    columns: dict[str, np.ndarray], where: str | None, names: Names
) -> dict[str, np.ndarray]:
    if where is None or not columns:
        return columns
    count = len(next(iter(columns.values())))
    keep = np.broadcast_to(np.asarray(evaluate(where, {**names, **columns}), dtype=bool), count)
    return {name: values[keep] for name, values in columns.items()}


def set_spec(declaration: TaskDeclaration, name: str) -> TrialSetSpec:
    if name in STANDARD_SETS:
        return getattr(declaration, name)
    if name in declaration.probes:
        return declaration.probes[name]
    raise KeyError(f"no trial set {name!r}; sets: {[*STANDARD_SETS, *declaration.probes]}")


def set_columns(
    declaration: TaskDeclaration, name: str, names: Names, seen: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """The trial variables of a named set (training, validation or a probe)."""
    if name in seen:
        raise ValueError(f"trial sets {' -> '.join((*seen, name))} refer to each other in a loop")
    spec = set_spec(declaration, name)
    if spec.grid is not None:
        columns = grid_columns(spec.grid, names)
    elif spec.sample is not None:
        rng = np.random.default_rng(evaluate(spec.sample.seed, names))
        count = _count(evaluate(spec.sample.count, names), "a sample")
        columns = {
            variable: rng.integers(evaluate(r.from_, names), evaluate(r.to, names) + 1, count)
            for variable, r in spec.sample.draw.items()
        }
    elif spec.from_set is not None:
        columns = set_columns(declaration, spec.from_set, names, (*seen, name))
    else:
        raise ValueError(f"trial set {name!r} needs one of grid, sample or from_set")
    return keep_where(columns, spec.where, names)


def set_trial_length(
    declaration: TaskDeclaration, name: str, columns: Mapping[str, np.ndarray], names: Names
) -> int:
    spec = set_spec(declaration, name)
    expression = declaration.trial_length if spec.trial_length is None else spec.trial_length
    return int(evaluate(expression, {**names, **columns}))


def period_timing(
    periods: list[Period], columns: Mapping[str, np.ndarray], names: Names, count: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each period's onset and duration per trial, (B,) integer arrays."""
    scope = {**names, **columns}
    timing: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    end = np.zeros(count, dtype=np.int64)
    for period in periods:
        onset = end if period.onset is None else evaluate(period.onset, scope)
        onset = np.broadcast_to(np.asarray(onset, dtype=np.int64), count)
        duration = np.broadcast_to(np.asarray(evaluate(period.duration, scope), np.int64), count)
        timing[period.name] = (onset, duration)
        end = onset + duration
    return timing


def build_trials(
    declaration: TaskDeclaration,
    columns: Mapping[str, np.ndarray],
    trial_length: int,
    names: Names,
) -> TrialSet:
    """Inputs and targets of the trials with the given variables: each period's channel values
    held over its steps, zero elsewhere (a later period wins where periods overlap)."""
    count = len(next(iter(columns.values()))) if columns else 1
    inputs = np.zeros((count, trial_length, len(declaration.inputs)), dtype=np.float32)
    targets = np.zeros((count, trial_length, len(declaration.outputs)), dtype=np.float32)
    scope = {**names, **columns}
    steps = np.arange(trial_length)
    timing = period_timing(declaration.periods, columns, names, count)
    for period in declaration.periods:
        onset, duration = timing[period.name]
        inside = (steps >= onset[:, None]) & (steps < (onset + duration)[:, None])
        for array, channels, values in (
            (inputs, declaration.inputs, period.inputs),
            (targets, declaration.outputs, period.targets),
        ):
            for channel, expression in values.items():
                value = np.broadcast_to(np.asarray(evaluate(expression, scope)), count)
                view = array[:, :, channels.index(channel)]
                view[inside] = np.broadcast_to(value[:, None], inside.shape)[inside]
    return TrialSet(
        inputs=torch.from_numpy(inputs),
        targets=torch.from_numpy(targets),
        conditions={name: np.asarray(values) for name, values in columns.items()},
    )
