"""The paper's training recipe as one frozen, JSON-ready configuration."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from atlas.networks.population import INITIALISATIONS

EPOCH_LOSSES = ("minibatches", "training_set")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of batched training (science.md, "Training").

    Phase 1 runs Adam at `learning_rate`. A network whose epoch loss has made no real progress
    (a relative drop of `min_improvement` below its best) for `stall_patience` epochs, and whose
    best loss is below `second_phase_loss`, goes back to its best weights and starts phase 2: a
    fresh Adam at `second_phase_learning_rate`, multiplied by `plateau_factor` (again from the
    best weights) after every `plateau_patience` epochs without progress. Phase 2 ends when the
    learning rate falls below `min_learning_rate`. A network stalled above `second_phase_loss`
    sits on the plateau near the trivial zero output that small initial weights start on; it
    leaves it only with phase 1's larger steps (on `delayed` after some 150 epochs of 45 steps),
    so it stays in phase 1: smaller steps would only freeze it there.
    `initialisation` picks the first weights (atlas.networks.population.INITIALISATIONS).
    The epoch loss, which all of this judges, is by default the loss of the whole training set
    under the epoch's last weights (`epoch_loss="training_set"`). `"minibatches"` takes the mean
    of the epoch's minibatch losses, as the paper's trainer does: no second pass (27-36% of an
    epoch), but other verdicts, since the noisier mean trips phase 2's short patience sooner;
    pair it with the paper's `plateau_patience=150` (measurements in the README, "Training
    speed").
    Training ends at `success_loss` (converged) or `max_epochs`; a network whose best loss is
    above `failure_loss` at its end has failed.
    A worker snapshots the whole run every `resume_every` epochs (atlas.training.snapshot; 0:
    never), so that an interrupted job repeats at most that many; it changes no result. A
    snapshot costs about 16 ms (the demo's 8 vanilla-40 networks, 0.3 MB, SQLite) against
    320 ms per epoch: 0.3% at 20 epochs; larger populations pay less (32 GRU-50 on
    reproduction: 0.19 s per 4.4 MB snapshot against 12 s per epoch, under 0.1%).
    `cuda_graphs` records the training step on a GPU once as a CUDA graph and replays it for
    each minibatch (atlas.training.graphed_step): the same kernels, launched at once. Off by
    default until measured on a GPU (benchmarks/gpu_run.sh runs it); ignored on the CPU.
    """

    max_epochs: int = 2000
    batch_size: int = 32
    learning_rate: float = 1e-3
    second_phase_learning_rate: float = 5e-4
    success_loss: float = 2e-5
    failure_loss: float = 2e-4
    stall_patience: int = 50
    plateau_factor: float = 0.8
    plateau_patience: int = 10
    checkpoint_every: int = 50
    device: str = "auto"
    min_improvement: float = 0.0
    second_phase_loss: float = 1e-3
    min_learning_rate: float = 1e-6
    dtype: str = "float32"
    resume_every: int = 20
    initialisation: str = "scaled"
    epoch_loss: str = "training_set"
    cuda_graphs: bool = False

    def __post_init__(self) -> None:
        positive_ints = ("max_epochs", "batch_size", "stall_patience", "plateau_patience")
        for name in positive_ints:
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint_every must be >= 0 (0: no intermediate checkpoints)")
        if not isinstance(self.resume_every, int) or self.resume_every < 0:
            raise ValueError("resume_every must be an integer >= 0 (0: no snapshots to resume)")
        rates = (
            "learning_rate",
            "second_phase_learning_rate",
            "success_loss",
            "failure_loss",
            "second_phase_loss",
        )
        for name in rates:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not 0 < self.plateau_factor < 1:
            raise ValueError("plateau_factor must lie in (0, 1)")
        if not 0 <= self.min_improvement < 1:
            raise ValueError("min_improvement must lie in [0, 1)")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if self.initialisation not in INITIALISATIONS:
            raise ValueError(
                f"initialisation must be one of {INITIALISATIONS}, got {self.initialisation!r}"
            )
        if self.epoch_loss not in EPOCH_LOSSES:
            raise ValueError(f"epoch_loss must be one of {EPOCH_LOSSES}, got {self.epoch_loss!r}")
        if not isinstance(self.cuda_graphs, bool):
            raise ValueError(f"cuda_graphs must be true or false, got {self.cuda_graphs!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown training config key(s) {unknown}; known keys: {sorted(known)}"
            )
        return cls(**d)

    def torch_device(self) -> torch.device:
        """The device to train on: the first GPU under "auto" when there is one, else the CPU."""
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but no CUDA device is available")
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]
