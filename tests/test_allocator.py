"""The allocator tuning applies on glibc Linux, once, and leaves numbers as they were."""

from __future__ import annotations

import ctypes
import platform

import pytest
import torch

from atlas.allocator import tune_allocator
from atlas.networks import RNNPopulation
from atlas.tasks import get_task


def test_tuning_applies_on_glibc_and_keeps_results_bit_identical():
    task = get_task("delayed")
    trials = task.validation_set()
    population = RNNPopulation.initialise("gru", 20, [0, 1, 2], task.n_inputs, task.n_outputs)
    before = population(trials.inputs).outputs
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert tune_allocator() is on_glibc
    assert tune_allocator() is on_glibc  # a second call is a no-op
    assert torch.equal(population(trials.inputs).outputs, before)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallinfo2")
def test_a_freed_large_tensor_stays_in_the_heap():
    """Above glibc's mmap threshold a tensor would be unmapped on free; tuned, the heap keeps
    it for the next one."""
    tune_allocator()
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
