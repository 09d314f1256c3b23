"""Admission control's memory estimate against the memory training actually takes.

For a grid of job shapes (task, architecture, units, count, batch size) each run trains a few
epochs in a fresh process and records its peak resident memory above what the process held
just before training started (torch imported, nothing built); the estimate
(atlas.training.admission, for a run of that many epochs) is set against it. A ratio
estimate/peak of 1 or more means the budget check errs on the safe side. Work is reported as
the multiply-adds per second the run reached (the rate that turns an estimate into time).
Prints a table; the last line is one JSON object with the figures.

    .venv/bin/python benchmarks/admission.py [--epochs 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

GRID = (
    # task, architecture, units, count, batch size (each a minute or two of CPU per epoch)
    ("delayed", "vanilla", 64, 64, 32),
    ("delayed", "vanilla", 128, 16, 128),
    ("reproduction", "gru", 128, 32, 32),
    ("interval", "gru", 64, 16, 64),
    ("reproduction", "lstm", 128, 64, 64),
    ("reproduction", "lstm", 256, 8, 32),
)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def measure(task_name: str, arch: str, units: int, count: int, batch: int, epochs: int) -> dict:
    """Run in a child: train `epochs` epochs, return the peak memory above the start and the
    estimate."""
    import torch

    from atlas.tasks import get_task
    from atlas.training import TrainingConfig
    from atlas.training.admission import estimate_population, population_shape
    from atlas.training.batched import PopulationTraining

    config = TrainingConfig(
        max_epochs=epochs, batch_size=batch, checkpoint_every=1, device="cpu", success_loss=1e-12
    )
    task = get_task(task_name)
    estimate = estimate_population(population_shape(task, arch, units, count, config))
    torch.manual_seed(0)
    # warm-up: the first training step maps BLAS kernels and thread pools into the process,
    # memory any process that trains holds, not this job's
    PopulationTraining(task, arch, 2, [0, 1], TrainingConfig(max_epochs=1)).run_epoch()
    before = _rss_bytes()
    start = time.perf_counter()
    training = PopulationTraining(task, arch, units, list(range(count)), config)
    for _ in range(epochs):
        training.run_epoch()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {
        "estimate_bytes": estimate.memory_bytes,
        "peak_bytes": peak,
        "ratio": estimate.memory_bytes / peak,
        "work": estimate.work,
        "multiply_adds_per_s": estimate.work / seconds,
        "parts": estimate.parts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs trained per shape")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        task, arch, units, count, batch = args.child
        print(json.dumps(measure(task, arch, int(units), int(count), int(batch), args.epochs)))
        return
    rows = {}
    print(f"{args.epochs} epochs per shape, {args.threads} torch thread(s), CPU, float32")
    print(
        f"{'task':<13}{'arch':<8}{'units':>6}{'count':>6}{'batch':>6}"
        f"{'estimate MiB':>14}{'peak MiB':>10}{'ratio':>7}{'MAC/s':>10}"
    )
    for shape in GRID:
        command = [sys.executable, __file__, "--epochs", str(args.epochs)]
        command += ["--threads", str(args.threads), "--child", *map(str, shape)]
        result = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
        name = "_".join(map(str, shape))
        rows[name] = result
        print(
            f"{shape[0]:<13}{shape[1]:<8}{shape[2]:>6}{shape[3]:>6}{shape[4]:>6}"
            f"{result['estimate_bytes'] / 2**20:>14.1f}{result['peak_bytes'] / 2**20:>10.1f}"
            f"{result['ratio']:>7.2f}{result['multiply_adds_per_s']:>10.2e}"
        )
    ratios = [r["ratio"] for r in rows.values()]
    summary = {
        "epochs": args.epochs,
        "threads": args.threads,
        "min_ratio": min(ratios),
        "max_ratio": max(ratios),
        "shapes": {name: {k: v for k, v in r.items() if k != "parts"} for name, r in rows.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
