"""Train a population of K networks in one batched computation, each by the paper's recipe.

Every network has its own Adam state, minibatch order, phase, learning rate and stopping
verdict. Decisions are taken once per epoch on its epoch loss (TrainingConfig.epoch_loss). A
finished network leaves the batch: its rows are dropped from the parameters and the optimiser
state, which freezes it (no update, no step count) and spares its compute while the others go
on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from atlas.allocator import tune_allocator
from atlas.network_status import STATUSES, NetworkStatus
from atlas.networks import RNNPopulation, to_state_dict
from atlas.networks.population import PARAMETER_NAMES
from atlas.tasks import TrialSet, TrialTask
from atlas.training.adam import BatchedAdam
from atlas.training.config import TrainingConfig
from atlas.training.evaluation import population_mse
from atlas.training.graphed_step import GraphedStep
from atlas.training.minibatches import MinibatchOrder
from atlas.training.outcome import Checkpoint, NetworkOutcome, TrainingProgress
from atlas.training.recipe import EpochVerdict, Recipe
from atlas.training.step import population_parameters, training_step

DEFAULT_CONFIG = TrainingConfig()


class PopulationTraining:
    """The state of one batched training run; `run_epoch` advances it by one epoch.

    Starting one tunes the process' allocator (atlas.allocator): training steps allocate and
    free the same large tensors thousands of times."""

    def __init__(
        self,
        task: TrialTask,
        architecture: str,
        units: int,
        seeds: Sequence[int],
        config: TrainingConfig,
    ):
        if len(seeds) == 0:
            raise ValueError("at least one seed is needed")
        tune_allocator()
        self.config = config
        self.seeds = [int(s) for s in seeds]
        device, dtype = config.torch_device(), config.torch_dtype()
        train, valid = task.training_set(), task.validation_set()
        self.inputs = train.inputs.to(device, dtype)
        self.targets = train.targets.to(device, dtype)
        self.training_set = TrialSet(self.inputs, self.targets)
        self.validation_set = TrialSet(
            valid.inputs.to(device, dtype), valid.targets.to(device, dtype)
        )
        self.population = RNNPopulation.initialise(
            architecture, units, self.seeds, task.n_inputs, task.n_outputs, config.initialisation
        ).to(device, dtype)
        self.initial = [to_state_dict(self.population, k) for k in range(len(self.seeds))]
        self.adam = BatchedAdam(
            population_parameters(self.population),
            torch.full((len(self.seeds),), config.learning_rate),
        )
        self.order = MinibatchOrder(self.seeds, len(train), config.batch_size)
        self.recipe = Recipe(len(self.seeds), config)
        self.best = self.population.stacked_parameters()
        self.active = np.arange(len(self.seeds))
        self.epoch = 0
        self.curves = np.full((len(self.seeds), min(config.max_epochs, 256)), np.nan)
        self.checkpoints: list[list[Checkpoint]] = [[] for _ in self.seeds]
        self.counts = dict.fromkeys(STATUSES, 0)
        self._graphed_steps: dict[tuple[int, ...], GraphedStep] = {}  # by minibatch shape

    def run_epoch(
        self, between_minibatches: Callable[[], None] | None = None
    ) -> list[NetworkOutcome]:
        """Train every active network for one epoch; returns the networks that finished.

        `between_minibatches()` is called before each minibatch; it may raise to abandon the
        epoch (a cancelled job), which leaves this run half-way through it: discard it."""
        self.epoch += 1
        # The epoch's minibatch indices reach the device in one copy, not one per minibatch.
        batches = self.order.epoch(self.inputs.device)
        minibatch_losses = []  # on the device: one copy to the host per epoch
        for batch in batches.split(self.config.batch_size, dim=1):
            if between_minibatches is not None:
                between_minibatches()
            minibatch_losses.append(self._step(self.inputs[batch], self.targets[batch]))
        if self.config.epoch_loss == "minibatches":
            losses = torch.stack(minibatch_losses).double().mean(dim=0).cpu().numpy()
        else:
            losses = population_mse(self.population, self.training_set).double().cpu().numpy()
        if self.epoch > self.curves.shape[1]:  # grow by doubling: few runs need max_epochs
            self.curves = np.concatenate([self.curves, np.full_like(self.curves, np.nan)], axis=1)
        self.curves[self.active, self.epoch - 1] = losses
        verdict = self.recipe.judge(losses, self.epoch)
        self._apply(verdict)
        if self.config.checkpoint_every and self.epoch % self.config.checkpoint_every == 0:
            self._checkpoint(losses, ~verdict.finished)
        finished = self._outcomes(verdict)
        self._keep(np.flatnonzero(~verdict.finished))
        return finished

    def _step(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One training step of the population, replayed from a CUDA graph where the config
        asks for one on a GPU (recorded again when the population has changed)."""
        if not (self.config.cuda_graphs and self.inputs.device.type == "cuda"):
            return training_step(self.population, self.adam, inputs, targets)
        if not all(g.serves(self.population, self.adam) for g in self._graphed_steps.values()):
            self._graphed_steps.clear()  # the population changed: drop the stale steps' memory
        shape = tuple(inputs.shape)
        if shape not in self._graphed_steps:
            self._graphed_steps[shape] = GraphedStep(self.population, self.adam, inputs, targets)
        return self._graphed_steps[shape](inputs, targets)

    def progress(self) -> TrainingProgress:
        return TrainingProgress(
            epoch=self.epoch,
            max_epochs=self.config.max_epochs,
            active=len(self.active),
            converged=self.counts[NetworkStatus.CONVERGED],
            failed=self.counts[NetworkStatus.FAILED],
        )

    def _mask(self, mask: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(mask).to(self.inputs.device)

    @torch.no_grad()
    def _apply(self, verdict: EpochVerdict) -> None:
        """Remember new best weights; send stalled networks back to their best weights."""
        new_best = self._mask(verdict.new_best)
        back_to_best = self._mask(verdict.second_phase | verdict.reduce_lr)
        for name in PARAMETER_NAMES:
            param = getattr(self.population, name)
            self.best[name][new_best] = param[new_best]
            param[back_to_best] = self.best[name][back_to_best]
        self.adam.restart(self._mask(verdict.second_phase))
        self.adam.lr.copy_(torch.from_numpy(self.recipe.lr))  # in place: see _step

    def _checkpoint(self, losses: np.ndarray, still_training: np.ndarray) -> None:
        for row in np.flatnonzero(still_training):
            self.checkpoints[self.active[row]].append(
                Checkpoint(self.epoch, float(losses[row]), to_state_dict(self.population, row))
            )

    def _outcomes(self, verdict: EpochVerdict) -> list[NetworkOutcome]:
        rows = np.flatnonzero(verdict.finished)
        if len(rows) == 0:
            return []
        index = torch.from_numpy(rows).to(self.inputs.device)
        final = RNNPopulation(
            self.population.architecture, {n: p[index] for n, p in self.best.items()}
        )
        validation = population_mse(final, self.validation_set).double().cpu().numpy()
        outcomes = []
        for i, row in enumerate(rows):
            k = int(self.active[row])
            status = str(verdict.status[row])
            self.counts[status] += 1
            outcomes.append(
                NetworkOutcome(
                    index=k,
                    seed=self.seeds[k],
                    status=status,
                    epochs=self.epoch,
                    steps=self.epoch * self.order.batches_per_epoch,
                    best_loss=float(self.recipe.best[row]),
                    validation_loss=float(validation[i]),
                    loss_curve=self.curves[k, : self.epoch].copy(),
                    initial_state_dict=self.initial[k],
                    final_state_dict=to_state_dict(final, i),
                    checkpoints=self.checkpoints[k],
                )
            )
        return outcomes

    def _keep(self, rows: np.ndarray) -> None:
        """Drop the finished networks from the batch."""
        if len(rows) == len(self.active):
            return
        index = torch.from_numpy(rows).to(self.inputs.device)
        self.population = self.population.select(index)
        self.best = {name: p[index] for name, p in self.best.items()}
        self.adam.keep(index, population_parameters(self.population))
        self.order.keep(rows.tolist())
        self.recipe.keep(rows)
        self.active = self.active[rows]


def train_population(
    task: TrialTask,
    architecture: str,
    units: int,
    seeds: Sequence[int],
    config: TrainingConfig = DEFAULT_CONFIG,
    *,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    on_network_done: Callable[[NetworkOutcome], None] | None = None,
    progress_bar: bool = False,
    start: PopulationTraining | None = None,
    on_epoch_end: Callable[[PopulationTraining], None] | None = None,
    between_minibatches: Callable[[], None] | None = None,
) -> list[NetworkOutcome]:
    """Train one network per seed (network k from seeds[k]) until each one is done.

    `on_network_done` is called as each network finishes, so that it can be stored at once;
    `on_progress` after every epoch, then `on_epoch_end(run)` (a worker snapshots the run
    there, atlas.training.snapshot); `between_minibatches` see PopulationTraining.run_epoch.
    `start`: a run to continue (restored from a snapshot) instead of a new one from `seeds`.
    Returns the outcomes in the order of `seeds` (with `start`, those finished from there).
    """
    run = start or PopulationTraining(task, architecture, units, seeds, config)
    outcomes: list[NetworkOutcome] = []
    with tqdm(total=config.max_epochs, disable=not progress_bar, unit="epoch") as bar:
        bar.update(run.epoch)
        while len(run.active):
            for outcome in run.run_epoch(between_minibatches):
                outcomes.append(outcome)
                if on_network_done is not None:
                    on_network_done(outcome)
            progress = run.progress()
            bar.update(1)
            bar.set_postfix(
                active=progress.active, converged=progress.converged, failed=progress.failed
            )
            if on_progress is not None:
                on_progress(progress)
            if on_epoch_end is not None:
                on_epoch_end(run)
    return sorted(outcomes, key=lambda o: o.index)
