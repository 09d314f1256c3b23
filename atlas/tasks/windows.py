"""The validation-trial windows a task's neural features measure, read from its declaration.

The paper measured its features on chosen task epochs (the Ready-Set wait, the Set-Go timing
trajectories, the delay after f1, ...). A declaration names them as windows: which validation
trials (`select`, every combination of the listed values) and which steps [start, stop).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from atlas.tasks.base import TrialSet
from atlas.tasks.expressions import evaluate
from atlas.tasks.trial_sets import grid_columns, keep_where

if TYPE_CHECKING:
    from atlas.tasks.declared import DeclaredTask


@dataclass(frozen=True)
class Window:
    """Steps [start, stop) of one validation trial."""

    trial: int
    start: int
    stop: int

    def of(self, states: np.ndarray) -> np.ndarray:
        """The window's states for every network, (K, stop - start, S)."""
        return states[:, self.trial, self.start : self.stop]


def trial_index(trials: TrialSet, **values: float) -> int:
    """The one trial of a set with the given condition values."""
    match = np.ones(len(trials), dtype=bool)
    for name, value in values.items():
        if name not in trials.conditions:
            raise ValueError(f"the validation trials have no variable {name!r}")
        match &= trials.conditions[name] == value
    found = np.flatnonzero(match)
    if len(found) != 1:
        raise ValueError(f"the validation set has {len(found)} trials with {values}, not one")
    return int(found[0])


def feature_windows(task: DeclaredTask, trials: TrialSet) -> dict[str, list[Window]]:
    """The declared windows by group, in declaration order, each checked to lie in a trial."""
    if task.declaration.features is None:
        raise ValueError(f"task {task.name!r} declares no neural features")
    names = {**task.names(), "trial_length": trials.trial_length}
    groups: dict[str, list[Window]] = {}
    for group, specs in task.declaration.features.windows.items():
        windows = groups.setdefault(group, [])
        for spec in specs:
            columns = keep_where(grid_columns(spec.select, names), spec.where, names)
            count = len(next(iter(columns.values()))) if columns else 0
            for i in range(count):
                row = {name: values[i].item() for name, values in columns.items()}
                scope = {**names, **row}
                start, stop = int(evaluate(spec.start, scope)), int(evaluate(spec.stop, scope))
                if not 0 <= start < stop <= trials.trial_length:
                    raise ValueError(
                        f"window {group} at {row}: steps {start}..{stop} are not a stretch "
                        f"of the {trials.trial_length}-step validation trials"
                    )
                windows.append(Window(trial_index(trials, **row), start, stop))
        if not windows:
            raise ValueError(f"window group {group!r} selects no trial")
    return groups
