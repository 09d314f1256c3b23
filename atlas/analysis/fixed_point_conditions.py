"""Fixed points of trained networks under each constant input their task uses.

The conditions are zero input plus every distinct non-zero input vector of the task's training
set (delayed: each f1 level on channel 0 and each f2 level on channel 1; interval and
reproduction: the pulses). All networks x all conditions go through one batched search that
covers each condition's reachable state space (`fixed_point_coverage`), and each condition
keeps the record of how it was covered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from atlas.analysis.fixed_point_coverage import Coverage, CoverageConfig, covering_search
from atlas.analysis.fixed_point_search import FixedPointConfig
from atlas.analysis.fixed_points import FixedPointSet
from atlas.networks import RNNPopulation
from atlas.tasks import TrialTask


@dataclass
class ConditionPoints:
    """The fixed and slow points of one network under one constant input, and how the search
    covered its state space (None where the points came from given starts only)."""

    label: str
    inputs: np.ndarray
    points: FixedPointSet
    coverage: Coverage | None = None

    def to_dict(
        self, include_states: bool = True, include_jacobians: bool = False
    ) -> dict[str, Any]:
        out = {
            "condition": self.label,
            "inputs": self.inputs.tolist(),
            **self.points.to_dict(include_states, include_jacobians),
        }
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_dict()
        return out


@dataclass
class FixedPointAnalysis:
    """One network's fixed points, condition by condition (zero input first)."""

    conditions: list[ConditionPoints] = field(default_factory=list)

    def to_dict(
        self, include_states: bool = True, include_jacobians: bool = False
    ) -> dict[str, Any]:
        return {
            "conditions": [c.to_dict(include_states, include_jacobians) for c in self.conditions]
        }


def constant_inputs(task: TrialTask) -> list[tuple[str, torch.Tensor]]:
    """(label, input vector) for zero input and each distinct non-zero input of training."""
    values = task.training_set().inputs.reshape(-1, task.n_inputs).numpy()
    distinct = np.unique(values[np.abs(values).sum(-1) > 0], axis=0)
    conditions = [("zero", torch.zeros(task.n_inputs))]
    for vector in torch.from_numpy(distinct):
        label = ",".join(
            f"{name}={float(v):g}" for name, v in zip(task.input_names, vector, strict=True) if v
        )
        conditions.append((label, vector))
    return conditions


def sample_initial_states(
    population: RNNPopulation,
    task: TrialTask,
    n: int = 64,
    noise: float = 0.05,
    seed: int = 0,
) -> torch.Tensor:
    """n states per network, (K, n, S), drawn from its own validation trajectories plus Gaussian
    noise (standard deviation `noise`): the regions the network actually visits."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        states = population(task.validation_set().inputs).states
    visited = states.reshape(population.count, -1, population.state_size)
    pick = torch.randint(0, visited.shape[1], (population.count, n), generator=gen)
    chosen = torch.gather(visited, 1, pick[..., None].expand(-1, -1, visited.shape[-1]))
    jitter = torch.randn(chosen.shape, generator=gen, dtype=chosen.dtype)
    return chosen + noise * jitter


def analyse_fixed_points(
    population: RNNPopulation,
    task: TrialTask,
    n_initial: int = 64,
    noise: float = 0.05,
    config: FixedPointConfig | None = None,
    seed: int = 0,
    coverage: CoverageConfig | None = None,
) -> list[FixedPointAnalysis]:
    """Per network, its fixed and slow points under zero input and each task input level, from
    `n_initial` trajectory starts per condition plus the starts `coverage` adds."""
    if population.n_inputs != task.n_inputs:
        raise ValueError(
            f"networks take {population.n_inputs} inputs; task {task.name!r} gives {task.n_inputs}"
        )
    conditions = constant_inputs(task)
    count, n_conditions = population.count, len(conditions)
    starts = sample_initial_states(population, task, n_initial, noise, seed)
    network_of = torch.arange(count).repeat_interleave(n_conditions)
    inputs = torch.stack([vector for _, vector in conditions]).repeat(count, 1)
    found = covering_search(
        population.select(network_of),
        inputs.to(starts.dtype),
        starts[network_of],
        network_of,
        config or FixedPointConfig(),
        coverage or CoverageConfig(seed=seed),
    )
    return [
        FixedPointAnalysis(
            [
                ConditionPoints(label, vector.numpy(), *found[k * n_conditions + c])
                for c, (label, vector) in enumerate(conditions)
            ]
        )
        for k in range(count)
    ]
