"""`atlas train`: train a population in one batched run and write it to a folder.

Layout of the folder (network k uses seed S + k):
    metadata.json                      task and its parameters, architecture, seeds, config,
                                       and every network's outcome with the paths below
    network_0000/initial.pt, final.pt  state dicts (plain tensors, torch.save)
    network_0000/epoch_0050.pt, ...    intermediate checkpoints
    network_0000/loss_curve.npy        training loss after every epoch
For `--task two_neuron` (the two-neuron study model): initial_w.npy, final_w.npy (K, 2, 2),
loss.npy, loss_curves.npy.
Networks are written as they finish, so an interrupted run keeps what it had.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas.cli import CommandError
from atlas.cli.arguments import positive_int, seed
from atlas.cli.loading import add_task_parameter_argument, resolve_study_model, resolve_task
from atlas.config import get_settings
from atlas.network_status import STATUSES
from atlas.wording import counted

if TYPE_CHECKING:
    from atlas.studies import TwoNeuronModel
    from atlas.training import TrainingConfig, TwoNeuronTrainingConfig
    from atlas.training.admission import WorkEstimate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a population of networks on a task")
    parser.add_argument(
        "--task",
        required=True,
        help="task key or alias (delayed, ...), or two_neuron (the study model)",
    )
    parser.add_argument("--arch", choices=("vanilla", "gru", "lstm"), help="architecture")
    parser.add_argument("--units", type=positive_int, help="hidden units per network")
    parser.add_argument("--count", type=positive_int, required=True, help="number of networks K")
    parser.add_argument("--seed", type=seed, default=0, help="network k uses seed S + k")
    parser.add_argument(
        "--max-epochs",
        type=positive_int,
        help="epoch limit (two_neuron: Adam steps); default: recipe's",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, help="epochs between checkpoints; default: recipe's"
    )
    parser.add_argument("--out", type=Path, help="output folder (must be new or empty)")
    add_task_parameter_argument(parser)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="torch CPU threads (small networks on a busy machine train fastest on 1)",
    )
    parser.set_defaults(func=train)


def train(args: argparse.Namespace) -> int:
    import torch

    from atlas.training.admission import estimate_population, estimate_two_neuron, population_shape

    model = resolve_study_model(args.task, args.param)
    subject = model or resolve_task(args.task, args.param)
    if model is None and (args.arch is None or args.units is None):
        raise CommandError(f"--arch and a positive --units are required for {subject.name!r}")
    count = args.count  # admitted before the folder is made: a refused run leaves nothing
    if model is not None:
        config: Any = _two_neuron_config(args)
        estimate = estimate_two_neuron(model, count, config)
        admit(estimate, f"a two-neuron study of {counted(count, 'network')}")
    else:
        config = _training_config(args)
        shape = population_shape(subject, args.arch, args.units, count, config)
        admit(
            estimate_population(shape),
            f"a population of {counted(count, f'{args.arch} network')} of {args.units} units",
        )
    out = args.out or Path(f"{subject.name}_{args.arch or 'w'}_{args.units or 2}_seed{args.seed}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CommandError(f"{out} exists and is not an empty folder")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [args.seed + k for k in range(args.count)]
    if model is not None:
        summary = _train_two_neuron(model, seeds, config, args, out)
    else:
        summary = _train_population(subject, seeds, config, args, out)
    print(json.dumps({"out": str(out), **summary}))
    return 0


def admit(estimate: WorkEstimate, what: str) -> None:
    """Refuse work over the budget the API admits jobs and studies under (atlas.config:
    max_job_memory_bytes, max_job_work), before it fails allocating or runs for days."""
    from atlas.store import Budget, OverBudgetError, check_budget

    try:
        check_budget(estimate, Budget.of(get_settings()), what)
    except OverBudgetError as exc:
        raise CommandError(
            f"over-budget: {exc} Or raise ATLAS_MAX_JOB_MEMORY_BYTES / ATLAS_MAX_JOB_WORK."
        ) from exc


def _training_config(args: argparse.Namespace) -> TrainingConfig:
    """The recipe's training configuration with the command's overrides, its device checked."""
    from atlas.training import TrainingConfig

    overrides = {"device": args.device}
    if args.max_epochs is not None:
        overrides["max_epochs"] = args.max_epochs
    if args.checkpoint_every is not None:
        overrides["checkpoint_every"] = args.checkpoint_every
    try:
        config = TrainingConfig(**overrides)
        config.torch_device()
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    return config


def _two_neuron_config(args: argparse.Namespace) -> TwoNeuronTrainingConfig:
    from atlas.training import TwoNeuronTrainingConfig

    try:
        return TwoNeuronTrainingConfig(
            **({} if args.max_epochs is None else {"max_steps": args.max_epochs})
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _train_population(
    task: Any, seeds: list[int], config: TrainingConfig, args: argparse.Namespace, out: Path
) -> dict:
    import numpy as np
    import torch

    from atlas.training import NetworkOutcome, train_population

    networks: list[dict] = []
    metadata = {
        "task": task.name,
        "task_parameters": task.parameters(),
        "architecture": args.arch,
        "units": args.units,
        "count": len(seeds),
        "seed": args.seed,
        "seeds": seeds,
        "config": config.to_dict(),
        "networks": networks,
    }

    def store(outcome: NetworkOutcome) -> None:
        folder = out / f"network_{outcome.index:04d}"
        folder.mkdir()
        torch.save(outcome.initial_state_dict, folder / "initial.pt")
        torch.save(outcome.final_state_dict, folder / "final.pt")
        np.save(folder / "loss_curve.npy", outcome.loss_curve)
        checkpoints = []
        for checkpoint in outcome.checkpoints:
            path = folder / f"epoch_{checkpoint.epoch:04d}.pt"
            torch.save(checkpoint.state_dict, path)
            checkpoints.append(
                {"epoch": checkpoint.epoch, "loss": checkpoint.loss, "path": _rel(path, out)}
            )
        networks.append(
            {
                "index": outcome.index,
                "seed": outcome.seed,
                "status": outcome.status,
                "epochs": outcome.epochs,
                "steps": outcome.steps,
                "best_loss": outcome.best_loss,
                "validation_loss": outcome.validation_loss,
                "initial": _rel(folder / "initial.pt", out),
                "final": _rel(folder / "final.pt", out),
                "loss_curve": _rel(folder / "loss_curve.npy", out),
                "checkpoints": checkpoints,
            }
        )
        networks.sort(key=lambda n: n["index"])
        _write_json(out / "metadata.json", metadata)

    _write_json(out / "metadata.json", metadata)
    outcomes = train_population(
        task,
        args.arch,
        args.units,
        seeds,
        config,
        on_network_done=store,
        progress_bar=args.progress,
    )
    statuses = [o.status for o in outcomes]
    return {s: statuses.count(s) for s in STATUSES}


def _train_two_neuron(
    model: TwoNeuronModel,
    seeds: list[int],
    config: TwoNeuronTrainingConfig,
    args: argparse.Namespace,
    out: Path,
) -> dict:
    import numpy as np

    from atlas.training import train_two_neuron

    result = train_two_neuron(model, seeds, config, progress_bar=args.progress)
    for name in ("initial_w", "final_w", "loss", "loss_curves"):
        np.save(out / f"{name}.npy", getattr(result, name))
    metadata = {
        "task": model.name,
        "task_parameters": model.parameters(),
        "architecture": "two_neuron",
        "count": len(seeds),
        "seed": args.seed,
        "seeds": seeds,
        "config": {**vars(config)},
        "arrays": ["initial_w.npy", "final_w.npy", "loss.npy", "loss_curves.npy"],
        "networks": [
            {
                "index": k,
                "seed": seeds[k],
                "loss": float(result.loss[k]),
                "solved": bool(result.solved[k]),
            }
            for k in range(len(seeds))
        ],
    }
    _write_json(out / "metadata.json", metadata)
    return {"solved": int(result.solved.sum()), "unsolved": int((~result.solved).sum())}


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _write_json(path: Path, data: dict) -> None:
    """Write through a temporary file, so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
