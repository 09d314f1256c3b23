"""What every task declares: trial sets as tensors, probes beyond training, graph input events.

A task is data (atlas.tasks.DeclaredTask): `with_overrides` gives a variant (say, longer
delays) and `parameters()` records exactly what was used, so that any network in the atlas can
have its data regenerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import torch

from atlas.errors import InvalidError
from atlas.tasks.graph_protocol import GraphProtocol


@dataclass(frozen=True)
class TrialSet:
    """A batch of trials, batch first: inputs (B, T, I), targets (B, T, O).

    `conditions` holds one array of length B per trial variable (f1, delay, ts, ...), so that
    analyses can group trials without re-deriving them from the inputs.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    conditions: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.inputs.shape[0]

    @property
    def trial_length(self) -> int:
        return self.inputs.shape[1]

    def subset(self, index: np.ndarray | list[int]) -> TrialSet:
        index = np.asarray(index)
        return TrialSet(
            inputs=self.inputs[torch.as_tensor(index)],
            targets=self.targets[torch.as_tensor(index)],
            conditions={k: v[index] for k, v in self.conditions.items()},
        )


@dataclass(frozen=True)
class InputEvent:
    """One input pulse the graph builder may apply, and the edge type it labels.

    `inputs` is (duration, n_inputs): the values fed on each step of the pulse.
    """

    name: str
    edge_type: int
    inputs: tuple[tuple[float, ...], ...]

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor(self.inputs, dtype=torch.float32)


class ParameterError(InvalidError):
    """A parameter override (of a task or a study model) that does not exist or makes no sense."""

    slug = "invalid-parameter"


@dataclass(frozen=True)
class Task:
    """What all tasks share: a name, aliases, parameters that can be overridden."""

    name: ClassVar[str]
    long_name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    input_names: ClassVar[tuple[str, ...]] = ()
    output_names: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[str] = "base"

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def n_outputs(self) -> int:
        return len(self.output_names)

    def parameters(self) -> dict[str, Any]:
        """The parameter values in force, JSON-ready."""
        raise NotImplementedError

    def with_overrides(self, **overrides: Any) -> Self:
        """A copy with some parameters replaced; ParameterError for unknown names or values
        the task cannot make trials with."""
        raise NotImplementedError

    def validate(self) -> None:
        """Raise ParameterError if the parameters cannot produce valid trials."""

    def describe(self) -> dict[str, Any]:
        """Everything a client needs to know about the task, as JSON-ready data."""
        return {
            "name": self.name,
            "long_name": self.long_name,
            "aliases": list(self.aliases),
            "kind": self.kind,
            "description": self.description,
            "inputs": list(self.input_names),
            "outputs": list(self.output_names),
            "parameters": self.parameters(),
        }


@dataclass(frozen=True)
class TrialTask(Task):
    """A discrete-time task: trials of inputs and targets, one step per time unit."""

    kind: ClassVar[str] = "trials"

    def training_set(self) -> TrialSet:
        raise NotImplementedError

    def validation_set(self) -> TrialSet:
        raise NotImplementedError

    def probes(self) -> dict[str, TrialSet]:
        """Trial sets reaching well beyond the training range, by name."""
        raise NotImplementedError

    def input_events(self) -> dict[str, InputEvent]:
        """The pulses the reduced-dynamics graph builder applies, by name."""
        raise NotImplementedError

    def output_label(self, output: np.ndarray) -> np.ndarray:
        """The discrete output label of the graph nodes (science.md, 'Output labels')."""
        raise NotImplementedError

    def graph_protocol(self) -> GraphProtocol:
        """Where the reduced-dynamics graph starts and which pulses it applies where."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        events = {
            name: {"edge_type": ev.edge_type, "duration": len(ev.inputs)}
            for name, ev in self.input_events().items()
        }
        return {**super().describe(), "input_events": events}


def pulse_trials(
    n_trials: int, trial_length: int, n_inputs: int, n_outputs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Zeroed input and target arrays, filled in by each task's trial builder."""
    return (
        np.zeros((n_trials, trial_length, n_inputs), dtype=np.float32),
        np.zeros((n_trials, trial_length, n_outputs), dtype=np.float32),
    )


def to_trial_set(inputs: np.ndarray, targets: np.ndarray, **conditions: Any) -> TrialSet:
    return TrialSet(
        inputs=torch.from_numpy(inputs),
        targets=torch.from_numpy(targets),
        conditions={k: np.asarray(v) for k, v in conditions.items()},
    )
