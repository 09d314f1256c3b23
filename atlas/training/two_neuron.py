"""Train K two-neuron networks at once: Adam on W, exact gradients by forward sensitivities."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from atlas.networks.two_neuron import initial_weights
from atlas.studies import TwoNeuronModel
from atlas.training.adam import BatchedAdam
from atlas.training.outcome import TrainingProgress
from atlas.training.sensitivities import loss_and_gradient


@dataclass(frozen=True)
class TwoNeuronTrainingConfig:
    """Adam on the 2x2 matrix W of every network.

    `max_steps` Adam steps at `learning_rate` (the loss is evaluated before each step and once
    after the last). A network whose loss falls below `stop_loss` stops there and leaves the
    batch (stopping stuck networks early was tried: it cut the solved share from 77% to 63%,
    as Adam leaves long plateaus late). The trajectories are
    integrated in `dtype` (float32 halves the time; the loss is accurate to far below the solved
    threshold), W and Adam's state are kept in float64. The loss is logged every `log_every`
    steps. With the defaults about three quarters of
    networks drawn from the paper's initialisation reach the model's solved loss (1e-4); the
    paper reports about 71% of its 10,000.
    """

    max_steps: int = 300
    learning_rate: float = 0.05
    stop_loss: float = 1e-6
    log_every: int = 10
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.log_every < 1:
            raise ValueError("max_steps and log_every must be positive")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not (self.learning_rate > 0 and self.stop_loss >= 0):
            raise ValueError("learning_rate must be positive and stop_loss non-negative")


DEFAULT_CONFIG = TwoNeuronTrainingConfig()


@dataclass
class TwoNeuronOutcome:
    """Per network k: its seed (which identifies it in its population), W before and after
    training, final loss, whether it reached the target (loss < model.solved_loss), and its
    loss every `log_every` steps (held at its last value once the network has stopped)."""

    seeds: np.ndarray
    initial_w: np.ndarray
    final_w: np.ndarray
    loss: np.ndarray
    solved: np.ndarray
    loss_curves: np.ndarray


@dataclass
class TwoNeuronRun:
    """A two-neuron training run between steps: the next `step` to take, W and Adam of the
    networks still training (`active` rows), and every network's last W, loss and loss curve
    (atlas.training.snapshot saves and restores it)."""

    step: int
    w: torch.Tensor
    adam: BatchedAdam
    active: np.ndarray
    final_w: np.ndarray
    loss: np.ndarray
    curves: np.ndarray


def train_two_neuron(
    model: TwoNeuronModel,
    seeds: Sequence[int],
    config: TwoNeuronTrainingConfig = DEFAULT_CONFIG,
    *,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    progress_bar: bool = False,
    start: TwoNeuronRun | None = None,
    on_step_end: Callable[[TwoNeuronRun], None] | None = None,
    check: Callable[[], None] | None = None,
) -> TwoNeuronOutcome:
    """Train one network per seed (W drawn by `initial_weights`), with numpy on the CPU.

    `on_progress` receives, after every step and once more when the last network is done,
    the counts of two_neuron_progress. `on_step_end(run)` follows it while networks still
    train (a worker snapshots the run there); `start` continues a run restored from a
    snapshot, or one a caller holds to read its finished networks should training be stopped
    (two_neuron_outcome), instead of starting from the initial W. `check()` is called inside
    each step's integration (atlas.training.sensitivities.CHECK_EVERY) and may raise to stop
    the run there: the step is then not taken, `start` holds the run as it was before it.
    """
    if len(seeds) == 0:
        raise ValueError("at least one seed is needed")
    run = start or first_two_neuron_run(model, seeds, config)
    with tqdm(total=config.max_steps, disable=not progress_bar, unit="step") as bar:
        bar.update(run.step)
        for step in range(run.step, config.max_steps + 1):
            step_loss, grad = loss_and_gradient(run.w.numpy().astype(config.dtype), model, check)
            step_loss, grad = step_loss.astype(np.float64), grad.astype(np.float64)
            run.final_w[run.active], run.loss[run.active] = run.w.numpy(), step_loss
            if step % config.log_every == 0:
                run.curves[run.active, step // config.log_every] = step_loss
            # After the last step every network is done: out of the batch like the stopped ones.
            last = step == config.max_steps
            keep = np.flatnonzero(step_loss >= config.stop_loss) if not last else np.arange(0)
            if len(keep) < len(run.active):
                index = torch.from_numpy(keep)
                run.w = run.w[index]
                run.adam.keep(index, [run.w])
                run.active, grad = run.active[keep], grad[keep]
            if len(keep):
                run.w.grad = torch.from_numpy(grad)
                run.adam.step()
                run.step = step + 1
                bar.update(1)
            if on_progress is not None:
                on_progress(two_neuron_progress(run, model, config))
            if len(keep) == 0:
                break
            if on_step_end is not None:
                on_step_end(run)
    return two_neuron_outcome(model, seeds, run)


def first_two_neuron_run(
    model: TwoNeuronModel, seeds: Sequence[int], config: TwoNeuronTrainingConfig
) -> TwoNeuronRun:
    """The run before its first step: every network training from its initial W."""
    initial = initial_weights([int(s) for s in seeds], model).numpy()
    w = torch.from_numpy(initial.copy())
    count = len(initial)
    return TwoNeuronRun(
        step=0,
        w=w,
        adam=BatchedAdam([w], torch.full((count,), config.learning_rate, dtype=w.dtype)),
        active=np.arange(count),
        final_w=initial.copy(),
        loss=np.full(count, np.inf),
        curves=np.full((count, config.max_steps // config.log_every + 1), np.nan),
    )


def _done(run: TwoNeuronRun) -> np.ndarray:
    """Which networks are out of the batch (boolean, one per network): their W, loss and
    curve will not change again."""
    done = np.ones(len(run.loss), dtype=bool)
    done[run.active] = False
    return done


def two_neuron_progress(
    run: TwoNeuronRun, model: TwoNeuronModel, config: TwoNeuronTrainingConfig
) -> TrainingProgress:
    """The run's counts: `epoch` steps taken, `active` networks still training, and of those
    done (out of the batch), `converged` below the solved loss and `failed` not, so that
    active + converged + failed is the population and converged never counts a network still
    training (one below the solved loss but above `stop_loss` trains on)."""
    done = _done(run)
    solved = run.loss < model.solved_loss
    return TrainingProgress(
        epoch=run.step,
        max_epochs=config.max_steps,
        active=len(run.active),
        converged=int((done & solved).sum()),
        failed=int((done & ~solved).sum()),
    )


def two_neuron_outcome(
    model: TwoNeuronModel, seeds: Sequence[int], run: TwoNeuronRun
) -> TwoNeuronOutcome:
    """The networks of `run` that are done (all of them once train_two_neuron returns; those
    that had finished when a caller stopped it part-way), with their seeds."""
    done = _done(run)
    finished_seeds = np.asarray([int(s) for s in seeds])[done]
    initial = np.empty((0, 2, 2))
    if len(finished_seeds):
        initial = initial_weights(finished_seeds.tolist(), model).numpy()
    return TwoNeuronOutcome(
        seeds=finished_seeds,
        initial_w=initial,
        final_w=run.final_w[done],
        loss=run.loss[done],
        solved=run.loss[done] < model.solved_loss,
        loss_curves=_held(run.curves[done]),
    )


def _held(curves: np.ndarray) -> np.ndarray:
    """Fill each row's trailing NaNs (the network had stopped) with its last logged value."""
    filled = curves.copy()
    for column in range(1, filled.shape[1]):
        gap = np.isnan(filled[:, column])
        filled[gap, column] = filled[gap, column - 1]
    return filled
