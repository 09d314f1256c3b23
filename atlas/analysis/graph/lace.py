"""Laces: runs of K networks from many states at once, and where each run ends.

Every network of a population is simulated together (one `RNNPopulation.step` per time step
for all networks and all starting states); only the cutting of each run into a lace is done
per run, with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from atlas.analysis.graph.loops import early_return, periodic_return
from atlas.networks import RNNPopulation
from atlas.networks.cells import STEPS

FIXED_POINT_STEP = 5e-5
"""RMS step per unit below which a free run has stopped moving: its lace ends there."""
REST_CHECK_EVERY = 25
"""How often (in steps) a batch of free runs checks whether every run has come to rest."""


@dataclass(frozen=True)
class Lace:
    """A lace: its kept states and outputs (the graph's nodes, in order), the index its last
    node loops back to (None when it does not loop), and every simulated state."""

    states: np.ndarray
    outputs: np.ndarray
    loop_to: int | None
    trajectory: np.ndarray

    @property
    def loops(self) -> bool:
        return self.loop_to is not None


def rms_steps(states: np.ndarray) -> np.ndarray:
    """RMS step per unit after each state (the last repeats the one before)."""
    steps = np.sqrt(np.mean(np.square(np.diff(states, axis=0)), axis=-1))
    return np.append(steps, steps[-1:]) if len(steps) else np.zeros(len(states))


def free_run_lace(states: np.ndarray, outputs: np.ndarray) -> Lace:
    """Cut a free run where it stops moving, or close the loop of the limit cycle it enters."""
    resting = np.flatnonzero(rms_steps(states) < FIXED_POINT_STEP)
    kept = max(int(resting[0]), 1) if resting.size else len(states)
    loop = periodic_return(states[:kept])
    if loop is not None:
        kept = loop[0]
    return Lace(states[:kept], outputs[:kept], loop[1] if loop else None, states)


def epoch_lace(states: np.ndarray, outputs: np.ndarray) -> Lace:
    """A trial epoch keeps its length; it loops if it comes back to an earlier state."""
    loop = early_return(states)
    kept = loop[0] if loop else len(states)
    return Lace(states[:kept], outputs[:kept], loop[1] if loop else None, states)


class LaceRunner:
    """Runs laces for the K networks of a population, batched over networks and starts."""

    def __init__(self, population: RNNPopulation, in_trial: bool):
        if population.n_outputs != 1:
            raise ValueError("reduced-dynamics graphs need networks with a single output")
        self.population = population
        self.in_trial = in_trial
        self.dtype = population.weight_hh.dtype
        self.weight_hh_t = population.weight_hh.transpose(1, 2)

    def free_step(self, states: torch.Tensor) -> torch.Tensor:
        """One zero-input step: the input projection is just the input bias."""
        pop = self.population
        bias = pop.bias_ih.unsqueeze(1).expand(-1, states.shape[1], -1)
        return STEPS[pop.architecture](states, bias, self.weight_hh_t, pop.bias_hh)

    def drive(self, states: torch.Tensor, inputs: tuple[tuple[float, ...], ...]) -> torch.Tensor:
        """The states (K, N, S) after feeding `inputs` ((T, I) values) step by step."""
        for values in torch.tensor(inputs, dtype=self.dtype).reshape(-1, self.population.n_inputs):
            states = self.population.step(states, values)
        return states

    def start_states(self, inputs: tuple[tuple[float, ...], ...]) -> torch.Tensor:
        """Each network's start state (K, 1, S): the zero state driven by `inputs`."""
        return self.drive(self.population.zero_state(1), inputs)

    def run(self, states: torch.Tensor, steps: int, active: np.ndarray) -> np.ndarray:
        """States (K, N, T, S) of zero-input runs from `states` (K, N, S).

        Free runs stop early once every active run has had a step below FIXED_POINT_STEP:
        its lace ends there, so later states would be cut anyway. (A hair below it, so that
        numpy's float rounding in `free_run_lace` cannot place the rest any later.)
        """
        trace = [states]
        rested = np.zeros(active.shape, dtype=bool)
        for t in range(1, steps + 1):
            states = self.free_step(states)
            trace.append(states)
            if not self.in_trial and t % REST_CHECK_EVERY == 0:
                recent = torch.stack(trace[max(1, t - REST_CHECK_EVERY) :], dim=2)
                moves = recent.diff(dim=2).pow(2).mean(dim=-1).sqrt()
                rested |= (moves < 0.999 * FIXED_POINT_STEP).any(dim=2).cpu().numpy()
                if rested[active].all():
                    break
        return torch.stack(trace[1:], dim=2).cpu().numpy()

    def final_states(self, states: torch.Tensor, steps: int) -> np.ndarray:
        """States (K, N, S) after `steps` zero-input steps. Stops early once a whole step
        leaves every state bit for bit unchanged: then nothing changes any more."""
        for t in range(steps):
            following = self.free_step(states)
            if t % REST_CHECK_EVERY == 0 and torch.equal(following, states):
                break
            states = following
        return states.cpu().numpy()

    def laces(self, states: torch.Tensor, steps: int, active: np.ndarray) -> list[list[Lace]]:
        """Lace per active (network, start): `active` (K, N) marks the real starts."""
        trajectory = self.run(states, steps, active)
        outputs = self.population.readout(torch.from_numpy(trajectory)).numpy()[..., 0]
        cut = epoch_lace if self.in_trial else free_run_lace
        return [
            [cut(trajectory[k, n], outputs[k, n]) for n in np.flatnonzero(active[k])]
            for k in range(len(active))
        ]
