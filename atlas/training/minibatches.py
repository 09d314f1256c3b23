"""Each network's own minibatch order, drawn from its own generator.

A network's shuffles depend on its seed alone, never on which other networks share its batch,
so network k trained in a population sees exactly the minibatches it would see trained alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# Mixed into the seed so that the shuffles do not replay the stream that drew the weights.
_SHUFFLE_STREAM = 0x5EED


def shuffle_seed(seed: int) -> int:
    return int(np.random.SeedSequence([seed, _SHUFFLE_STREAM]).generate_state(1)[0])


class MinibatchOrder:
    def __init__(self, seeds: Sequence[int], n_trials: int, batch_size: int):
        self.generators = [torch.Generator().manual_seed(shuffle_seed(s)) for s in seeds]
        self.n_trials = n_trials
        self.batch_size = batch_size

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n_trials // self.batch_size)

    def epoch(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """One epoch's trial indices (K, n_trials), a fresh shuffle per network; minibatch j is
        columns [j * batch_size, (j + 1) * batch_size). The shuffles are drawn on the host
        (each network's own generator) and reach a GPU in one copy from pinned memory that
        the host does not wait for: no synchronisation inside an epoch."""
        perms = torch.stack([torch.randperm(self.n_trials, generator=g) for g in self.generators])
        if torch.device(device).type == "cuda":
            return perms.pin_memory().to(device, non_blocking=True)
        return perms

    def keep(self, index: Sequence[int]) -> None:
        """Keep only the networks at `index` (the others have finished)."""
        self.generators = [self.generators[i] for i in index]
