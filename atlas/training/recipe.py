"""The paper's stopping rules, decided for every network of a batch at once after each epoch.

Row k of every array is one network still training. The trainer feeds the epoch losses in and
acts on the masks that come back (keep the best weights, restart Adam for phase 2, lower the
learning rate, retire networks); this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlas.network_status import NetworkStatus
from atlas.training.config import TrainingConfig


@dataclass
class EpochVerdict:
    """Masks over the networks in training, after one epoch."""

    new_best: np.ndarray  # loss below the best so far: keep these weights
    second_phase: np.ndarray  # stalled in phase 1: back to the best weights, Adam restarts
    reduce_lr: np.ndarray  # plateau in phase 2: lr * factor, back to the best weights
    finished: np.ndarray  # training over: converged, lr exhausted, diverged or max_epochs
    status: np.ndarray  # the NetworkStatus value where finished, else ""


class Recipe:
    """Per-network phase, best loss, stall counter and learning rate."""

    def __init__(self, count: int, config: TrainingConfig):
        self.config = config
        self.best = np.full(count, np.inf)
        self.stalled = np.zeros(count, dtype=int)
        self.second = np.zeros(count, dtype=bool)
        self.lr = np.full(count, config.learning_rate)

    def judge(self, losses: np.ndarray, epoch: int) -> EpochVerdict:
        c = self.config
        new_best = losses < self.best
        progress = losses < self.best * (1 - c.min_improvement)
        self.best = np.fmin(self.best, losses)  # a NaN loss never becomes the best
        self.stalled = np.where(progress, 0, self.stalled + 1)

        second_phase = (
            ~self.second & (self.stalled >= c.stall_patience) & (self.best < c.second_phase_loss)
        )
        reduce_lr = self.second & (self.stalled >= c.plateau_patience)
        self.lr = np.where(second_phase, c.second_phase_learning_rate, self.lr)
        self.lr = np.where(reduce_lr, self.lr * c.plateau_factor, self.lr)
        self.second |= second_phase
        self.stalled[second_phase | reduce_lr] = 0

        converged = losses < c.success_loss
        exhausted = self.lr < c.min_learning_rate
        diverged = ~np.isfinite(losses)
        finished = converged | exhausted | diverged | (epoch >= c.max_epochs)
        ended = np.where(self.best > c.failure_loss, NetworkStatus.FAILED, NetworkStatus.UNFINISHED)
        status = np.where(converged, NetworkStatus.CONVERGED, ended)
        return EpochVerdict(
            new_best=new_best,
            second_phase=second_phase & ~finished,
            reduce_lr=reduce_lr & ~finished,
            finished=finished,
            status=np.where(finished, status, ""),
        )

    def keep(self, index: np.ndarray) -> None:
        """Keep only the networks at `index` (the others have finished)."""
        self.best = self.best[index]
        self.stalled = self.stalled[index]
        self.second = self.second[index]
        self.lr = self.lr[index]
