"""The allocator tuning applies on glibc, once, and leaves numbers as they were."""

from __future__ import annotations

import ctypes
import platform

import pytest
import torch

from atlas.allocator import tune_allocator
from atlas.networks import RNNPopulation
from atlas.tasks import get_task

GLIBC_TESTED = (2, 36)


def glibc_version() -> tuple[int, ...]:
    """(0,) without glibc."""
    name, version = platform.libc_ver()
    return tuple(int(part) for part in version.split(".")) if name == "glibc" else (0,)


def test_tuning_applies_on_glibc_and_keeps_results_bit_identical():
    task = get_task("delayed")
    trials = task.validation_set()
    population = RNNPopulation.initialise("gru", 20, [0, 1, 2], task.n_inputs, task.n_outputs)
    before = population(trials.inputs).outputs
    applied = tune_allocator()
    assert tune_allocator() is applied  # a second call is a no-op
    if glibc_version()[:2] == GLIBC_TESTED:
        assert applied, "glibc 2.36 (this machine, the Docker image) accepts the thresholds"
    assert torch.equal(population(trials.inputs).outputs, before)


@pytest.mark.skipif(glibc_version()[:2] != GLIBC_TESTED, reason="tested on glibc 2.36")
def test_a_large_tensor_comes_from_the_heap():
    """Above glibc's own mmap threshold a tensor would be mapped afresh (and unmapped on free);
    tuned, it comes from the heap, which keeps it for the next one."""
    assert tune_allocator()
    libc = ctypes.CDLL("libc.so.6")

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )]  # fmt: skip

    libc.mallinfo2.restype = MallInfo2
    mapped_before = libc.mallinfo2().hblkhd
    big = torch.empty(64 * 2**20 // 4)  # 64 MiB: above glibc's largest mmap threshold
    mapped_with_it = libc.mallinfo2().hblkhd
    del big
    assert mapped_with_it - mapped_before < 2**20, "the tensor was mmapped, not taken from the heap"
