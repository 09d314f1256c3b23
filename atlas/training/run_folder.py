"""A population trained outside the atlas, kept in a folder, and read back as outcomes.

Charting the full tasks takes hours of training on many cores or a GPU, often on a lent
machine that has no database: `benchmarks/paper_settings.py` trains there and writes one
folder per population (or one per process, when a population's seeds are split across
processes), and `atlas chart from-runs` brings the folders into a chart. The layout:

- `outcomes.json`: the population (task and its parameters, architecture, units, seeds, the
  training config), its sessions (device, wall seconds, epochs), `epochs_run`, the finished
  networks (seed, status, epochs, best and validation loss, file) and the seeds still training;
- `network_<seed>.npz`: a finished network's best weights (state-dict keys, float32) and
  `loss_curve`, the training loss after every epoch;
- `snapshot.npz` while networks are still training (atlas.training.snapshot).

Initial weights are not stored: they follow from the seeds (RNNPopulation.initialise).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atlas.errors import InvalidError
from atlas.networks import RNNPopulation
from atlas.networks.interop import infer_shape, to_state_dict
from atlas.tasks import TrialTask
from atlas.training.batched import PopulationTraining
from atlas.training.config import TrainingConfig
from atlas.training.outcome import NetworkOutcome
from atlas.training.snapshot import take_snapshot

OUTCOMES = "outcomes.json"
SNAPSHOT = "snapshot.npz"


class RunFolderError(InvalidError):
    """A folder that is not a readable population run; the message says what is wrong."""

    slug = "invalid-run-folder"


def network_file(seed: int) -> str:
    return f"network_{seed:06d}.npz"


def record_session(
    folder: Path,
    task: TrialTask,
    run: PopulationTraining,
    finished: list[NetworkOutcome],
    wall_s: float,
    epochs: int,
) -> None:
    """After a session of training `run`: write the networks that finished in it, a snapshot
    of those still training (or none when all are done) and the updated `outcomes.json`."""
    snapshot, summary_path = folder / SNAPSHOT, folder / OUTCOMES
    if len(run.active):
        np.savez_compressed(snapshot, **take_snapshot(run))
    elif snapshot.exists():
        snapshot.unlink()
    previous = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    networks = previous.get("networks", []) + save_finished(folder, finished)
    device = run.config.device
    summary = {
        "task": task.name,
        "task_parameters": task.parameters(),
        "architecture": run.population.architecture,
        "units": run.population.units,
        "device": device,
        "seeds": run.seeds,
        "config": run.config.to_dict(),
        "sessions": [
            *previous.get("sessions", []),
            {
                "device": device,
                "wall_s": round(wall_s, 1),
                "epochs": epochs,
                "seconds_per_epoch": round(wall_s / max(epochs, 1), 4),
            },
        ],
        "epochs_run": run.epoch,
        "networks": sorted(networks, key=lambda n: n["seed"]),
        "still_training": [int(run.seeds[k]) for k in run.active],
        "still_training_best_loss": [float(b) for b in run.recipe.best],
    }
    summary_path.write_text(json.dumps(summary, indent=1))


def save_finished(folder: Path, outcomes: list[NetworkOutcome]) -> list[dict[str, Any]]:
    """Write each finished network's file; their entries for `outcomes.json`."""
    entries = []
    for o in outcomes:
        np.savez_compressed(
            folder / network_file(o.seed),
            loss_curve=o.loss_curve.astype(np.float32),
            **{key: t.float().numpy() for key, t in o.final_state_dict.items()},
        )
        entries.append(
            {
                "seed": o.seed,
                "status": o.status,
                "epochs": o.epochs,
                "steps": o.steps,
                "best_loss": o.best_loss,
                "validation_loss": o.validation_loss,
                "file": network_file(o.seed),
            }
        )
    return entries


@dataclass(frozen=True)
class PopulationRun:
    """What a run folder holds: the population and its finished networks as outcomes."""

    task: str
    task_parameters: dict[str, Any]
    architecture: str
    units: int
    seeds: list[int]
    config: dict[str, Any]
    epochs_run: int
    still_training: list[int]
    outcomes: list[NetworkOutcome]


def _network_file(
    folder: Path, entry: dict[str, Any], seeds: list[int]
) -> tuple[dict[str, torch.Tensor], np.ndarray, int]:
    """A finished network's final weights, loss curve and seed, checked against the run;
    the entry's numbers are checked here too, so that any bad entry reads as one error."""
    seed = int(entry["seed"])
    if seed not in seeds:
        raise ValueError(f"seed {seed} is not one of the run's seeds")
    if not all(
        isinstance(entry[k], int | float) for k in ("epochs", "best_loss", "validation_loss")
    ):
        raise ValueError("epochs and losses must be numbers")
    if not isinstance(entry["status"], str):
        raise ValueError("status must be a string")
    if Path(entry["file"]).name != entry["file"]:
        raise ValueError("a network file lies in the run folder itself")
    with np.load(folder / entry["file"], allow_pickle=False) as arrays:
        curve = arrays["loss_curve"].astype(np.float64)
        final = {k: torch.from_numpy(arrays[k]) for k in arrays.files if k != "loss_curve"}
    return final, curve, seed


def _summary(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / OUTCOMES).read_text())
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{folder}: not a population run ({exc})") from exc


def run_task(folder: Path) -> tuple[str, dict[str, Any]]:
    """The task name and parameters a run trained on (to resolve before reading it)."""
    summary = _summary(folder)
    try:
        return str(summary["task"]), dict(summary["task_parameters"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunFolderError(f"{folder}: not a population run ({exc})") from exc


def read_population_run(folder: Path, n_trials: int) -> PopulationRun:
    """The run in `folder`; `n_trials` is the size of the task's training set (a network's
    steps are its epochs times the minibatches of one epoch, where a folder lacks them)."""
    summary = _summary(folder)
    try:
        config = TrainingConfig.from_dict(summary["config"])
        seeds = [int(s) for s in summary["seeds"]]
        arch, units = str(summary["architecture"]), int(summary["units"])
        entries = summary["networks"]
        run_fields = (
            summary["task"],
            dict(summary["task_parameters"]),
            int(summary["epochs_run"]),
            [int(s) for s in summary["still_training"]],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise RunFolderError(f"{folder}: not a population run ({exc})") from exc
    batches = -(-n_trials // config.batch_size)
    initial = None
    outcomes = []
    for entry in entries:
        try:
            final, curve, seed = _network_file(folder, entry, seeds)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunFolderError(f"{folder}: unreadable network entry {entry!r} ({exc})") from exc
        shape = infer_shape(final)
        if (shape.architecture, shape.units) != (arch, units):
            raise RunFolderError(f"{folder}: {entry['file']} is not a {arch} {units} network")
        if initial is None:
            initial = RNNPopulation.initialise(
                arch, units, seeds, shape.n_inputs, shape.n_outputs, config.initialisation
            )
        epochs = int(entry["epochs"])
        outcomes.append(
            NetworkOutcome(
                index=seeds.index(seed),
                seed=seed,
                status=str(entry["status"]),
                epochs=epochs,
                steps=int(entry.get("steps", epochs * batches)),
                best_loss=float(entry["best_loss"]),
                validation_loss=float(entry["validation_loss"]),
                loss_curve=curve,
                initial_state_dict=to_state_dict(initial, seeds.index(seed)),
                final_state_dict=final,
                checkpoints=[],
            )
        )
    task, parameters, epochs_run, still_training = run_fields
    return PopulationRun(
        task,
        parameters,
        arch,
        units,
        seeds,
        summary["config"],
        epochs_run,
        still_training,
        outcomes,
    )


def join_runs(runs: Sequence[PopulationRun]) -> PopulationRun:
    """Folders of one population whose seeds were split across processes, as one run;
    RunFolderError when they are not parts of one population (another task variant, setting
    or config, or a seed trained twice)."""
    first = runs[0]
    population = (first.task, first.task_parameters, first.architecture, first.units, first.config)
    for run in runs[1:]:
        if (run.task, run.task_parameters, run.architecture, run.units, run.config) != population:
            raise RunFolderError(
                f"runs of {first.architecture} {first.units} differ in task variant or config"
            )
    seeds = sorted(s for run in runs for s in run.seeds)
    if len(set(seeds)) != len(seeds):
        raise RunFolderError(f"runs of {first.architecture} {first.units} share seeds")
    outcomes = sorted((o for run in runs for o in run.outcomes), key=lambda o: o.seed)
    return PopulationRun(
        first.task,
        first.task_parameters,
        first.architecture,
        first.units,
        seeds,
        first.config,
        max(run.epochs_run for run in runs),
        sorted(s for run in runs for s in run.still_training),
        [replace(o, index=seeds.index(o.seed)) for o in outcomes],
    )
