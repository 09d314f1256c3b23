"""A population's training step recorded once as a CUDA graph and replayed for each minibatch.

On a GPU a small population's epoch is launch-bound: one training step is thousands of small
kernels (per time step a product and the gates' elementwise work, forward and backward), and
an epoch's time hardly grows with K (README, "Training speed"). Replaying a CUDA graph launches
the whole recorded step at once. The graph reads and writes fixed tensors: each minibatch is
copied into its inputs, and the population's parameters, the optimiser's moments, step counts
and learning rates are changed in place between replays (PopulationTraining and BatchedAdam
replace them only when the population changes: networks leave the batch, a snapshot is
resumed; `serves` then says no and the step is recorded again). A replay runs the kernels of
the eager step (atlas.training.step.training_step) on the same data.
"""

from __future__ import annotations

import torch

from atlas.networks import RNNPopulation
from atlas.training.adam import BatchedAdam
from atlas.training.step import population_parameters, training_step

WARM_UP_STEPS = 2
"""Eager steps before recording, as PyTorch's CUDA-graph notes ask: they make the lazily
created state (library handles, workspaces, autograd's gradient buffers) exist before capture.
Their updates are undone (`warm_up`)."""


def step_state(population: RNNPopulation, adam: BatchedAdam) -> list[torch.Tensor]:
    """Every tensor a step reads or writes besides its minibatch and its gradients (the
    optimiser's parameters are the population's)."""
    return [
        *population_parameters(population),
        adam.lr,
        adam.steps,
        *adam.exp_avg,
        *adam.exp_avg_sq,
    ]


def warm_up(
    population: RNNPopulation, adam: BatchedAdam, inputs: torch.Tensor, targets: torch.Tensor
) -> None:
    """Run WARM_UP_STEPS training steps, then put the parameters and the optimiser's state back
    as they were: the warm-up leaves gradients behind and nothing else."""
    state = step_state(population, adam)  # updated in place by each step
    saved = [t.detach().clone() for t in state]
    for _ in range(WARM_UP_STEPS):
        training_step(population, adam, inputs, targets)
    with torch.no_grad():
        for tensor, before in zip(state, saved, strict=True):
            tensor.copy_(before)


class GraphedStep:
    """`training_step` of one population and optimiser for minibatches of one shape, recorded
    as a CUDA graph; calling it copies the minibatch in, replays, and returns the K losses."""

    def __init__(
        self,
        population: RNNPopulation,
        adam: BatchedAdam,
        inputs: torch.Tensor,
        targets: torch.Tensor,
    ):
        self._state = step_state(population, adam)  # held: their memory is the graph's
        self._inputs, self._targets = inputs.clone(), targets.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            warm_up(population, adam, self._inputs, self._targets)
        torch.cuda.current_stream().wait_stream(side)
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self._losses = training_step(population, adam, self._inputs, self._targets)

    def serves(self, population: RNNPopulation, adam: BatchedAdam) -> bool:
        """Whether this graph is the step of `population` and `adam`: it holds their tensors
        themselves, not copies of them."""
        current = step_state(population, adam)
        return len(current) == len(self._state) and all(
            a is b for a, b in zip(current, self._state, strict=True)
        )

    def __call__(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self._inputs.copy_(inputs)
        self._targets.copy_(targets)
        self._graph.replay()
        return self._losses.clone()  # the next replay overwrites them
