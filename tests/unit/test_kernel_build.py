"""Building the C kernels (atlas.networks.kernels.build): cached per source and compiler, and
a missing compiler or `ATLAS_NATIVE_KERNELS=off` leaves the PyTorch path, never an error."""

from __future__ import annotations

import logging
import shutil

import pytest
import torch

from atlas.networks.fused import sweep_outputs
from atlas.networks.kernels import build, run
from atlas.networks.kernels import vanilla as vanilla_kernel


@pytest.fixture
def fresh_build(monkeypatch, tmp_path):
    """An empty kernel cache; the process' loaded kernels come back afterwards."""
    monkeypatch.setenv("ATLAS_KERNEL_CACHE", str(tmp_path))
    build.load.cache_clear()
    run.library.cache_clear()
    yield tmp_path
    build.load.cache_clear()
    run.library.cache_clear()


needs_compiler = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")


@needs_compiler
def test_a_kernel_is_built_once_then_loaded_from_the_cache(fresh_build, monkeypatch):
    assert build.load("vanilla_sweep") is not None
    (built,) = fresh_build.glob("vanilla_sweep-*.so")
    build.load.cache_clear()

    def refuse(*_):
        raise AssertionError("compiled again")

    monkeypatch.setattr(build, "_compile", refuse)
    assert build.load("vanilla_sweep") is not None
    assert list(fresh_build.glob("vanilla_sweep-*.so")) == [built]


def test_without_a_compiler_training_runs_the_pytorch_path(fresh_build, monkeypatch, caplog):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with caplog.at_level(logging.WARNING, logger=build.__name__):
        assert build.load("vanilla_sweep") is None
    assert "PyTorch path" in caplog.text
    assert not vanilla_kernel.applies(torch.empty(0))
    assert list(fresh_build.iterdir()) == []  # no half-written library left behind
    generator = torch.Generator().manual_seed(0)
    parameters = [
        torch.randn(*shape, generator=generator, requires_grad=True)
        for shape in ((2, 4, 2), (2, 4, 4), (2, 4), (2, 4), (2, 1, 4), (2, 1))
    ]
    inputs = torch.randn(2, 5, 3, 2, generator=generator)
    sweep_outputs("vanilla", inputs, torch.zeros(2, 3, 4), *parameters).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in parameters)


def test_kernels_switched_off_are_not_built(fresh_build, monkeypatch):
    monkeypatch.setenv("ATLAS_NATIVE_KERNELS", "off")
    assert build.load("vanilla_sweep") is None
    assert list(fresh_build.iterdir()) == []
