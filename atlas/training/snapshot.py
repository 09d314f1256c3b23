"""The whole state of a PopulationTraining run as named arrays, and the run rebuilt from them.

Taken at the end of an epoch, a snapshot holds everything the next epochs depend on: each
active network's weights and best weights, its Adam moments, step count and learning rate,
its stopping-rule state (best loss, stall counter, phase, rate), its minibatch generator's
state, the loss curves, the intermediate checkpoints not handed out yet, the active set, the
epoch and the outcome counts. A run restored from it continues exactly as the original would
have: same minibatches, same arithmetic on the same population, hence the same weights
(bit for bit on the same device and thread count).

The arrays are plain numbers (a storage layer writes them as an .npz, never a pickle). The
initial weights are not kept: they follow from the seeds. Two-neuron runs (TwoNeuronRun)
have their own pair: take_two_neuron_snapshot, restore_two_neuron.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from atlas.errors import InvalidError
from atlas.networks import RNNPopulation
from atlas.networks.population import PARAMETER_NAMES
from atlas.tasks import TrialTask
from atlas.training.adam import BatchedAdam
from atlas.training.batched import PopulationTraining
from atlas.training.config import TrainingConfig
from atlas.training.outcome import STATUSES, Checkpoint
from atlas.training.step import population_parameters
from atlas.training.two_neuron import TwoNeuronRun
from atlas.wording import counted

FORMAT_VERSION = 1
Arrays = dict[str, np.ndarray]


class SnapshotMismatchError(InvalidError):
    """The snapshot was taken of another run (other seeds, shape or format)."""

    slug = "snapshot-mismatch"


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to("cpu").numpy().copy()


def take_snapshot(run: PopulationTraining) -> Arrays:
    """The run's state after its last completed epoch (call it between epochs)."""
    arrays: Arrays = {
        "format": np.array(FORMAT_VERSION),
        "epoch": np.array(run.epoch),
        "seeds": np.array(run.seeds, dtype=np.int64),
        "active": run.active.astype(np.int64),
        "counts": np.array([run.counts[s] for s in STATUSES], dtype=np.int64),
        "curves": run.curves[:, : max(run.epoch, 1)].copy(),
        "adam.lr": _numpy(run.adam.lr),
        "adam.steps": _numpy(run.adam.steps),
        "recipe.best": run.recipe.best.copy(),
        "recipe.stalled": run.recipe.stalled.copy(),
        "recipe.second": run.recipe.second.copy(),
        "recipe.lr": run.recipe.lr.copy(),
    }
    for i, name in enumerate(PARAMETER_NAMES):
        arrays[f"param.{name}"] = _numpy(getattr(run.population, name))
        arrays[f"best.{name}"] = _numpy(run.best[name])
        arrays[f"adam.exp_avg.{name}"] = _numpy(run.adam.exp_avg[i])
        arrays[f"adam.exp_avg_sq.{name}"] = _numpy(run.adam.exp_avg_sq[i])
    for row, generator in enumerate(run.order.generators):
        arrays[f"order.{row}"] = _numpy(generator.get_state())
    for k in run.active.tolist():
        checkpoints = run.checkpoints[k]
        if not checkpoints:
            continue
        arrays[f"ckpt.{k}.epoch"] = np.array([c.epoch for c in checkpoints], dtype=np.int64)
        arrays[f"ckpt.{k}.loss"] = np.array([c.loss for c in checkpoints])
        for key in checkpoints[0].state_dict:
            arrays[f"ckpt.{k}.w.{key}"] = np.stack([_numpy(c.state_dict[key]) for c in checkpoints])
    return arrays


def restore_training(
    task: TrialTask,
    architecture: str,
    units: int,
    config: TrainingConfig,
    arrays: Mapping[str, np.ndarray],
) -> PopulationTraining:
    """The run `take_snapshot` saw, ready for its next epoch. Raises SnapshotMismatchError when
    the snapshot does not fit this task, shape and config."""
    if int(arrays.get("format", -1)) != FORMAT_VERSION:
        raise SnapshotMismatchError(f"snapshot format is not {FORMAT_VERSION}")
    seeds = arrays["seeds"].tolist()
    run = PopulationTraining(task, architecture, units, seeds, config)
    device = run.inputs.device

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(arrays[name])).to(device)

    weights = {name: tensor(f"param.{name}") for name in PARAMETER_NAMES}
    found, expected = weights["weight_hh"], run.population.weight_hh
    if found.shape[1:] != expected.shape[1:] or found.dtype != expected.dtype:
        raise SnapshotMismatchError(
            f"snapshot weights {tuple(found.shape)} {found.dtype} do not fit "
            f"{architecture} x {units} ({expected.dtype})"
        )
    run.population = RNNPopulation(architecture, weights)
    run.best = {name: tensor(f"best.{name}") for name in PARAMETER_NAMES}
    run.adam = BatchedAdam(population_parameters(run.population), tensor("adam.lr"))
    run.adam.steps = tensor("adam.steps")
    run.adam.exp_avg = [tensor(f"adam.exp_avg.{name}") for name in PARAMETER_NAMES]
    run.adam.exp_avg_sq = [tensor(f"adam.exp_avg_sq.{name}") for name in PARAMETER_NAMES]
    run.active = np.asarray(arrays["active"], dtype=np.int64)
    run.order.generators = [
        torch.Generator().set_state(torch.from_numpy(np.asarray(arrays[f"order.{row}"])))
        for row in range(len(run.active))
    ]
    run.recipe.best = np.asarray(arrays["recipe.best"]).copy()
    run.recipe.stalled = np.asarray(arrays["recipe.stalled"]).copy()
    run.recipe.second = np.asarray(arrays["recipe.second"]).copy()
    run.recipe.lr = np.asarray(arrays["recipe.lr"]).copy()
    run.epoch = int(arrays["epoch"])
    curves = np.asarray(arrays["curves"])
    run.curves = np.full((len(seeds), max(run.curves.shape[1], curves.shape[1])), np.nan)
    run.curves[:, : curves.shape[1]] = curves
    run.counts = dict(zip(STATUSES, np.asarray(arrays["counts"]).tolist(), strict=True))
    run.checkpoints = [_checkpoints(arrays, k) for k in range(len(seeds))]
    return run


def _checkpoints(arrays: Mapping[str, np.ndarray], k: int) -> list[Checkpoint]:
    prefix = f"ckpt.{k}."
    if prefix + "epoch" not in arrays:
        return []
    epochs, losses = arrays[prefix + "epoch"], arrays[prefix + "loss"]
    keys = [name[len(prefix) + 2 :] for name in arrays if name.startswith(prefix + "w.")]
    return [
        Checkpoint(
            int(epochs[i]),
            float(losses[i]),
            {key: torch.from_numpy(np.array(arrays[f"{prefix}w.{key}"][i])) for key in keys},
        )
        for i in range(len(epochs))
    ]


def take_two_neuron_snapshot(run: TwoNeuronRun) -> Arrays:
    """A two-neuron run's state after a step (its initial W follows from the seeds)."""
    return {
        "format": np.array(FORMAT_VERSION),
        "step": np.array(run.step),
        "w": _numpy(run.w),
        "adam.lr": _numpy(run.adam.lr),
        "adam.steps": _numpy(run.adam.steps),
        "adam.exp_avg": _numpy(run.adam.exp_avg[0]),
        "adam.exp_avg_sq": _numpy(run.adam.exp_avg_sq[0]),
        "active": run.active.astype(np.int64),
        "final_w": run.final_w.copy(),
        "loss": run.loss.copy(),
        "curves": run.curves.copy(),
    }


def restore_two_neuron(arrays: Mapping[str, np.ndarray], count: int) -> TwoNeuronRun:
    """The run `take_two_neuron_snapshot` saw, for train_two_neuron(start=...). Raises
    SnapshotMismatchError when it is not a snapshot of `count` networks."""
    if int(arrays.get("format", -1)) != FORMAT_VERSION or len(arrays["loss"]) != count:
        raise SnapshotMismatchError(f"not a two-neuron snapshot of {counted(count, 'network')}")
    w = torch.from_numpy(np.array(arrays["w"]))
    adam = BatchedAdam([w], torch.from_numpy(np.array(arrays["adam.lr"])))
    adam.steps = torch.from_numpy(np.array(arrays["adam.steps"]))
    adam.exp_avg = [torch.from_numpy(np.array(arrays["adam.exp_avg"]))]
    adam.exp_avg_sq = [torch.from_numpy(np.array(arrays["adam.exp_avg_sq"]))]
    return TwoNeuronRun(
        step=int(arrays["step"]),
        w=w,
        adam=adam,
        active=np.array(arrays["active"], dtype=np.int64),
        final_w=np.array(arrays["final_w"]),
        loss=np.array(arrays["loss"]),
        curves=np.array(arrays["curves"]),
    )
