"""Run a population on a trial set without gradients, in chunks of networks that fit in memory.

A population's forward pass keeps every state of every trial, (K, B, T, S); a wide probe (156
trials of 645 steps for `reproduction`) on a large population would not fit at once. Analyses
need the outputs and, at most, the states of a window, so the networks are run a chunk at a time
and only what is asked for is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from atlas.networks import RNNPopulation
from atlas.tasks import TrialSet, TrialTask

CHUNK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class TrialRun:
    """Outputs (K, B, T, O) and states (K, B, W, S) of the kept window (W = T for all states)."""

    outputs: np.ndarray
    states: np.ndarray | None


def networks_per_chunk(population: RNNPopulation, trials: TrialSet) -> int:
    """How many networks one forward pass may hold: states plus gate pre-activations."""
    batch, steps = trials.inputs.shape[:2]
    gates = population.weight_hh.shape[1]
    itemsize = population.weight_hh.element_size()
    per_network = batch * steps * (population.state_size + gates) * itemsize
    return max(1, CHUNK_BYTES // max(per_network, 1))


def run_trials(
    population: RNNPopulation, trials: TrialSet, keep_last: int | None = None
) -> TrialRun:
    """Outputs of every network on every trial, and states of the last `keep_last` steps.

    keep_last=None keeps every state; keep_last=0 keeps none.
    """
    chunk = networks_per_chunk(population, trials)
    inputs = trials.inputs.to(population.weight_hh.device)
    outputs, states = [], []
    with torch.no_grad():
        for start in range(0, population.count, chunk):
            index = list(range(start, min(start + chunk, population.count)))
            part = population if len(index) == population.count else population.select(index)
            run = part(inputs)
            outputs.append(run.outputs.cpu().numpy())
            if keep_last is None:
                states.append(run.states.cpu().numpy())
            elif keep_last > 0:
                states.append(run.states[:, :, -keep_last:].cpu().numpy())
    kept = np.concatenate(states) if states else None
    return TrialRun(outputs=np.concatenate(outputs), states=kept)


def validation_states(population: RNNPopulation, task: TrialTask) -> np.ndarray:
    """States (K, B, T, S) of every network on the task's validation set, run in float64.

    Geometric measurements on them (curvature, SVM margins, Procrustes) are sensitive to
    rounding, so a float32 population is run as a float64 copy.
    """
    if population.weight_hh.dtype != torch.float64:
        population = population.select(range(population.count)).double()
    return run_trials(population, task.validation_set()).states
