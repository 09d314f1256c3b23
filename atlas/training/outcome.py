"""What training leaves behind for each network, and the progress reports during it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from atlas.network_status import STATUSES as STATUSES  # NetworkStatus's values, in order


@dataclass
class Checkpoint:
    """A network's weights part-way through training: the paper predicts types from them."""

    epoch: int
    loss: float
    state_dict: dict[str, torch.Tensor]


@dataclass
class NetworkOutcome:
    """One trained network.

    `status`: "converged" (training loss reached success_loss), "failed" (best loss above
    failure_loss when training ended), or "unfinished" (training ended, by max_epochs or an
    exhausted second phase, with a best loss between the two). `final_state_dict` holds the
    weights of the best epoch, `validation_loss` their validation MSE (docs/glossary.md: the
    store's final_loss is another number, the last epoch's training loss), `loss_curve` the
    training loss after every epoch.
    """

    index: int
    seed: int
    status: str
    epochs: int
    steps: int
    best_loss: float
    validation_loss: float
    loss_curve: np.ndarray
    initial_state_dict: dict[str, torch.Tensor]
    final_state_dict: dict[str, torch.Tensor]
    checkpoints: list[Checkpoint]


@dataclass
class TrainingProgress:
    """Counts after an epoch, for progress bars and job rows."""

    epoch: int
    max_epochs: int
    active: int
    converged: int
    failed: int
