"""benchmarks/paper_initial_weights.py on a folder in the paper's layout: a start that already
solves the task counts as off the plateau, a random start does not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import torch
from conftest import ROOT, reference_dir

from atlas.networks.interop import to_state_dict
from atlas.networks.population import RNNPopulation


def test_solved_and_random_starts_are_told_apart(tmp_path):
    networks = reference_dir() / "networks"
    solved = tmp_path / "interval_discrimination_130_vanilla_20" / "i100"
    solved.mkdir(parents=True)
    shutil.copy(networks / "interval_vanilla_20_i100" / "weights.pt", solved / "weights.pt")
    shutil.copy(networks / "interval_vanilla_20_i100" / "weights.pt", solved / "initial_weights.pt")
    random_start = tmp_path / "interval_reproduction_50_gru_20" / "i100"
    random_start.mkdir(parents=True)
    shutil.copy(networks / "reproduction_gru_20_i100" / "weights.pt", random_start / "weights.pt")
    population = RNNPopulation.initialise("gru", 20, [7], 2, 1, "scaled")
    torch.save(to_state_dict(population, 0), random_start / "initial_weights.pt")

    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "paper_initial_weights.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )

    rows = {row["setting"]: row for row in json.loads(result.stdout.splitlines()[-1])["settings"]}
    interval = rows["interval_discrimination_130_vanilla_20"]
    assert interval["starts_off_plateau"] == 1
    assert interval["initial_loss_max"] == interval["final_loss_max"] < 2e-4
    reproduction = rows["interval_reproduction_50_gru_20"]
    assert reproduction["starts_off_plateau"] == 0
    assert reproduction["initial_loss_median"] > 0.5 * reproduction["zero_output_loss"]
    assert reproduction["final_loss_max"] < 2e-4
