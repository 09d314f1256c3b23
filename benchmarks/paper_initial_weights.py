"""What the paper's saved initial weights are: random starting points or earlier solutions.

The paper's trainer saves `initial_weights.pt` as the model stands when `train` starts, after
any weights it was handed. Evaluating them on the atlas' task (its validation set) tells a
chart that starts from random weights, as the atlas' do, whether the paper's networks of a
setting did too: a starting loss at the zero-output plateau means a random start, one near
2e-4 means the network was retrained from an earlier solution, whose own history the release
does not hold.

    git clone https://github.com/eliaturner/space-of-solutions-RNN paper
    python benchmarks/paper_initial_weights.py paper/models

One table row per setting (the paper's folder name), then one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch

from atlas.networks.interop import StateDictError, from_state_dicts, load_state_dict
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse

PAPER_TASKS = {
    "delayed_discrimination": "delayed",
    "interval_discrimination": "interval",
    "interval_reproduction": "reproduction",
}
OFF_PLATEAU = 0.5
"""A start below this fraction of the zero-output loss has left the plateau."""
SETTING = re.compile(r"^(?P<task>[a-z_]+?)_\d+_(?:vanilla|gru|lstm)_\d+$")


def validation_losses(state_dicts: list[dict[str, torch.Tensor]], task_name: str) -> list[float]:
    """The networks' MSE on the task's validation set, in float64, as one population."""
    population = from_state_dicts(state_dicts).double()
    return population_mse(population, get_task(task_name).validation_set()).tolist()


def setting_row(folder: Path, task_name: str) -> dict | None:
    initial, final = [], []
    for instance in sorted(folder.glob("i*")):
        if not (instance / "initial_weights.pt").exists():
            continue
        try:
            initial.append(load_state_dict(instance / "initial_weights.pt"))
            final.append(load_state_dict(instance / "weights.pt"))
        except (StateDictError, FileNotFoundError) as exc:
            print(f"{instance}: skipped ({exc})")
            del initial[len(final) :]  # a pair or neither
    if not initial:
        return None
    initial_losses = validation_losses(initial, task_name)
    final_losses = validation_losses(final, task_name)
    zero_output = float(get_task(task_name).validation_set().targets.double().pow(2).mean())
    return {
        "setting": folder.name,
        "networks": len(initial),
        "zero_output_loss": zero_output,
        "initial_loss_median": float(np.median(initial_losses)),
        "initial_loss_max": max(initial_losses),
        "final_loss_max": max(final_losses),
        "starts_off_plateau": sum(loss < OFF_PLATEAU * zero_output for loss in initial_losses),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the `models/` folder of the paper's repository")
    args = parser.parse_args()
    if not args.models.is_dir():
        parser.error(f"{args.models} is not a folder")
    rows = []
    for folder in sorted(p for p in args.models.iterdir() if p.is_dir()):
        match = SETTING.match(folder.name)
        if match and match["task"] in PAPER_TASKS:
            row = setting_row(folder, PAPER_TASKS[match["task"]])
            if row:
                rows.append(row)
    if not rows:
        parser.error(f"no setting folder with initial_weights.pt under {args.models}")
    print(
        "| setting | networks | zero-output loss | initial loss: median / max | final max |"
        " starting off the plateau (below half the zero-output loss) |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['setting']} | {r['networks']} | {r['zero_output_loss']:.2e} |"
            f" {r['initial_loss_median']:.2e} / {r['initial_loss_max']:.2e} |"
            f" {r['final_loss_max']:.2e} | {r['starts_off_plateau']} |"
        )
    print(json.dumps({"settings": rows}))


if __name__ == "__main__":
    main()
