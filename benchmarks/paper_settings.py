"""Train the paper's settings (task x architecture x size) with the paper's recipe, in parallel
processes, each population until it is done or a wall-clock deadline passes.

Made for a lent machine (many cores, a GPU): every population runs in its own process, on the
CPU (one thread) or the GPU, so that the launch-bound small-network steps of different
populations overlap. Each population writes a run folder `<out>/<name>/` (layout in
atlas.training.run_folder): its finished networks, its outcomes and, when the deadline stopped
it, a snapshot; running the same command over the same `--out` continues exactly there, on
this or another machine. `atlas chart from-runs` makes the folders a chart (the folders of one
population's processes join as one setting). Only science modules are imported (no database,
no web).

    python benchmarks/paper_settings.py --out runs/paper --deadline 300 \
        --population delayed:vanilla:20:0:64:cpu:8 ... [--max-epochs 5000 --training JSON]
A population is TASK:ARCH:UNITS:SEED:COUNT:DEVICE[:PROCESSES] (PROCESSES splits its seeds
over that many processes). The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROGRESS_EVERY = 50
"""Epochs between a worker's progress lines in its log."""


def train_one(
    task_name: str,
    arch: str,
    units: int,
    seeds: list[int],
    device: str,
    deadline: float,
    out: Path,
    training: dict,
) -> None:
    """Train (or resume) one population until it is done or `deadline` (epoch seconds)."""
    import torch

    from atlas.tasks import get_task
    from atlas.training.batched import PopulationTraining
    from atlas.training.config import TrainingConfig
    from atlas.training.run_folder import OUTCOMES, SNAPSHOT, record_session
    from atlas.training.snapshot import restore_training

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task(task_name)
    config = TrainingConfig.from_dict({**training, "device": device, "checkpoint_every": 0})
    snapshot = out / SNAPSHOT
    if (out / OUTCOMES).exists() and not snapshot.exists():
        print("every network of this population has finished: nothing to train", flush=True)
        return
    if snapshot.exists():
        with np.load(snapshot) as arrays:
            run = restore_training(task, arch, units, config, dict(arrays))
    else:
        run = PopulationTraining(task, arch, units, seeds, config)
    started, first_epoch = time.time(), run.epoch
    finished = []
    while len(run.active) and time.time() < deadline:
        finished.extend(run.run_epoch())
        if run.epoch % PROGRESS_EVERY == 0:
            progress = run.progress()
            losses = run.curves[run.active, run.epoch - 1]
            print(
                f"epoch {progress.epoch}: {progress.active} training, {progress.converged}"
                f" converged, {len(finished)} finished this call; training loss of those"
                f" training: median {np.median(losses) if len(losses) else float('nan'):.2e}",
                flush=True,
            )
    if device == "cuda":
        torch.cuda.synchronize()
    record_session(out, task, run, finished, time.time() - started, run.epoch - first_epoch)


def main() -> None:
    from atlas.training.config import TrainingConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--deadline", type=float, required=True, help="seconds from now")
    parser.add_argument("--population", action="append", default=[])
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=TrainingConfig.max_epochs,
        help="epochs before a network still training ends (the paper sets no limit; a task with"
        " few minibatches per epoch, like interval, needs more epochs for the same Adam steps)",
    )
    parser.add_argument(
        "--training",
        type=json.loads,
        default={},
        help="JSON object of further TrainingConfig options, e.g. "
        '\'{"initialisation": "pytorch", "second_phase_loss": 0.02}\'',
    )
    parser.add_argument("--worker", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, arch, units, seeds, device, deadline, out, training = args.worker
        train_one(
            task,
            arch,
            int(units),
            json.loads(seeds),
            device,
            float(deadline),
            Path(out),
            json.loads(training),
        )
        return
    training = {**args.training, "max_epochs": args.max_epochs}
    try:
        TrainingConfig.from_dict(training)
    except (TypeError, ValueError) as exc:
        parser.error(f"--training: {exc}")
    deadline = time.time() + args.deadline
    args.out.mkdir(parents=True, exist_ok=True)
    processes = []
    for spec in args.population:
        task, arch, units, seed, count, device, *split = spec.split(":")
        parts = int(split[0]) if split else 1
        seeds = list(range(int(seed), int(seed) + int(count)))
        for p in range(parts):
            chunk = seeds[p::parts]
            name = f"{task}_{arch}_{units}_{device}_s{chunk[0]}_p{p}"
            command = [
                sys.executable,
                __file__,
                "--out",
                str(args.out),
                "--deadline",
                "0",
                "--worker",
                task,
                arch,
                units,
                json.dumps(chunk),
                device,
                str(deadline),
                str(args.out / name),
                json.dumps(training),
            ]
            log = open(args.out / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            processes.append((name, subprocess.Popen(command, stdout=log, stderr=log), log))
    for _, process, log in processes:
        process.wait()
        log.close()
    figures = {}
    for name, process, _ in processes:
        path = args.out / name / "outcomes.json"
        if process.returncode or not path.exists():
            figures[name] = {"error": process.returncode}
            continue
        s = json.loads(path.read_text())
        losses = [n["validation_loss"] for n in s["networks"]]
        last = s["sessions"][-1]
        figures[name] = {
            "wall_s": last["wall_s"],
            "epochs": s["epochs_run"],
            "s_per_epoch": last["seconds_per_epoch"],
            "finished": len(losses),
            "accepted": sum(v < 2e-4 for v in losses),
            "still_training": len(s["still_training"]),
        }
        print(
            f"{name:42s} {last['wall_s']:7.1f} s  {s['epochs_run']:5d} epochs "
            f"{last['seconds_per_epoch']:.3f} s/epoch  finished {len(losses):3d}  "
            f"accepted {figures[name]['accepted']:3d}  training {len(s['still_training']):3d}"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
