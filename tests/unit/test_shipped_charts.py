"""The atlas' own charts in charts/*.zip: datasets a newcomer's atlas imports on first start.
Each must hold at least 48 networks that solve the full task: rebuilt from the dataset's
weights with plain PyTorch, their validation loss on the full task (default parameters) is
below 2e-4, as the dataset says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from atlas.datasets import parse_dataset, read_files
from atlas.network_status import SOLUTION_LOSS
from atlas.networks import to_torch
from atlas.tasks import get_task

CHARTS = sorted((Path(__file__).parents[2] / "charts").glob("*.zip"))
MIN_ACCEPTED = 48


def test_the_atlas_ships_charts():
    assert CHARTS, "charts/ holds no chart dataset"


@pytest.mark.parametrize("path", CHARTS, ids=[p.stem for p in CHARTS])
def test_each_shipped_chart_solves_the_full_task(path):
    dataset = parse_dataset(read_files(path))
    assert dataset.document("chart.json") is not None
    networks = dataset.tables["networks"]
    (task_name,) = {row["task"] for row in networks}
    task = get_task(task_name)
    assert all(row["task_parameters"] == task.parameters() for row in networks)  # full task
    accepted = [row for row in networks if row["validation_loss"] < SOLUTION_LOSS]
    assert len(accepted) >= MIN_ACCEPTED
    trials = task.validation_set()
    with torch.no_grad():
        for row in accepted:
            weights = dataset.tensors(f"networks/{row['network']}/final.safetensors")
            model = to_torch({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            model = model.double()
            loss = float(torch.mean((model(trials.inputs.double()) - trials.targets) ** 2))
            assert loss < SOLUTION_LOSS, row["network"]
            assert loss == pytest.approx(row["validation_loss"], rel=1e-3)
