"""Shared fixtures: the paper's reference networks (external data) and service URLs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from atlas.networks import load_state_dict

ROOT = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    """Where `shared/reference` is: $ATLAS_REFERENCE_DIR, beside the checkout, or /work/shared."""
    candidates = [
        os.environ.get("ATLAS_REFERENCE_DIR"),
        ROOT.parent / "shared" / "reference",
        ROOT / "shared" / "reference",
        Path("/work/shared/reference"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "networks").is_dir():
            return Path(candidate)
    raise RuntimeError("reference data not found; set ATLAS_REFERENCE_DIR to shared/reference")


@dataclass(frozen=True)
class ReferenceNetwork:
    name: str
    task: str
    architecture: str
    units: int
    weights_path: Path
    state_dict: dict[str, torch.Tensor]
    graph: dict


def load_references() -> list[ReferenceNetwork]:
    """The 20 reference networks from disk (benchmarks read them too)."""
    nets = []
    for folder in sorted((reference_dir() / "networks").iterdir()):
        meta = json.loads((folder / "network.json").read_text())
        nets.append(
            ReferenceNetwork(
                name=folder.name,
                task=meta["task"],
                architecture=meta["architecture"],
                units=meta["units"],
                weights_path=folder / "weights.pt",
                state_dict=load_state_dict(folder / "weights.pt"),
                graph=json.loads((folder / "reduced_graph.json").read_text()),
            )
        )
    return nets


@pytest.fixture(scope="session")
def reference_networks() -> list[ReferenceNetwork]:
    """All 20 reference networks trained by the paper's own code, loaded once, when a test
    first asks for them (collection never touches the reference data)."""
    return load_references()


@pytest.fixture(scope="session")
def paper_features_dir() -> Path:
    return reference_dir() / "paper_features"


POSTGRES_URL = os.environ.get(
    "ATLAS_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432"
)
REDIS_URL = os.environ.get("ATLAS_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small recurrent steps run faster on one torch thread than fighting over two cores;
    restores the thread count afterwards. Use with `pytest.mark.usefixtures`."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
