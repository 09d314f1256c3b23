"""Populations that train on a CPU in about a minute per task and give several solution types.

A test helper, not a test: `train_recipe(name)` trains the recipe's populations for one task
and returns them with every network's outcome (status, final weights, checkpoints). Each
population is one architecture and size; its fields are those of a training job (task
parameters, training options, architecture, units, count, seed: networks seed .. seed+count-1),
so a recipe can also be submitted as jobs. Training runs on the CPU on one torch thread, so the
same recipe gives the same networks on every run.

Why these settings (measured on this project's 2-core machine, one torch thread, CPU seconds):
- GRUs: with the paper's small initialisation, vanilla networks sit on the zero-output plateau
  far longer than a test can wait (vanilla 20-30 units: none below 1e-3 in 200-600 epochs on
  `interval` or `reproduction`; on `delayed` none reach 2e-5 in 1500 epochs of 32-trial
  batches), LSTMs leave it but cost a third more per step and converge later.
- Small batches: a step costs nearly the same for 8 or 16 trials (the sequential time loop
  dominates), and the plateau is left after a number of steps, not epochs. Batches of 8 suit
  `delayed` and `reproduction` (on `reproduction` 15 of 16 GRUs converge in 300 epochs with 8,
  3 of 16 with 16); `interval` leaves its plateau less often with 8 than with 16.
- Many networks per population: a step of 32 networks costs about 1.5 times one of 16.
- Shortened tasks with the paper's structure and graph probes inside the training range:
  `delayed` is the demo's variant (delays 0..2, trials of 32 steps); `interval` has t1, t2 in
  15..25 (the graph's pulse 1 at step 20 and pulse 2 at 15 and 25 steps after it) and the
  answer 10 steps after pulse 2 (still after the graph's 8 settle steps; with 15 fewer networks
  leave the plateau); `reproduction` has ts in 20..40 (the graph's Set at 40 steps after Ready).

Measured per task: see RECIPES.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from atlas.tasks import TrialTask, get_task
from atlas.training import NetworkOutcome, TrainingConfig, train_population


@dataclass(frozen=True)
class Population:
    """`count` networks of one architecture and size, seeded seed, seed+1, ..."""

    architecture: str
    units: int
    count: int
    seed: int


@dataclass(frozen=True)
class Recipe:
    """One fixed task variant and training configuration, and the populations to train."""

    task_parameters: dict[str, Any]
    training: dict[str, Any]
    populations: tuple[Population, ...]

    def task(self, name: str) -> TrialTask:
        task = get_task(name, **self.task_parameters)
        assert isinstance(task, TrialTask)
        return task

    def config(self) -> TrainingConfig:
        return TrainingConfig.from_dict({"device": "cpu", **self.training})


@dataclass(frozen=True)
class TrainedPopulation:
    population: Population
    outcomes: list[NetworkOutcome] = field(default_factory=list)

    def converged(self) -> list[NetworkOutcome]:
        return [o for o in self.outcomes if o.status == "converged"]


RECIPES: dict[str, Recipe] = {
    "delayed": Recipe(
        task_parameters={
            "delay_max": 2,
            "f1_onset": 2,
            "f2_onset": 16,
            "response_onset": 24,
            "trial_length": 32,
        },
        training={"learning_rate": 5e-3, "batch_size": 8, "max_epochs": 240},
        populations=(Population("gru", 20, 24, 0),),
    ),
    "interval": Recipe(
        task_parameters={"t_min": 14, "t_max": 26, "response_delay": 10, "trial_length": 64},
        training={"learning_rate": 1.5e-2, "batch_size": 24, "max_epochs": 330},
        populations=(Population("gru", 20, 32, 0),),
    ),
    "reproduction": Recipe(
        task_parameters={"ts_max": 42, "trial_length": 94},
        training={"learning_rate": 1e-2, "batch_size": 8, "max_epochs": 200},
        populations=(Population("gru", 30, 16, 0),),
    ),
}


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Sums split over threads round differently, and training amplifies the difference."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.cache
def train_recipe(task_name: str) -> tuple[TrialTask, tuple[TrainedPopulation, ...]]:
    """The task variant and its trained populations; cached, as several tests share them
    (treat the result as read-only)."""
    recipe = RECIPES[task_name]
    task, config = recipe.task(task_name), recipe.config()
    with _one_torch_thread():
        trained = tuple(
            TrainedPopulation(
                population,
                train_population(
                    task,
                    population.architecture,
                    population.units,
                    range(population.seed, population.seed + population.count),
                    config,
                ),
            )
            for population in recipe.populations
        )
    return task, trained
