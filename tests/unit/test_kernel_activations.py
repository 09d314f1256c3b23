"""The kernels' tanh (activations.h) against float64: every sweep's activations go through it,
the logistic function's too."""

from __future__ import annotations

import pytest
import torch

from atlas.networks.kernels import vanilla

pytestmark = pytest.mark.skipif(
    not vanilla.applies(torch.zeros(1)), reason="no C kernel on this machine"
)


def _ulps(got: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """|got - exact| in units of the float32 spacing above exact's float32 magnitude."""
    nearest = exact.float().abs()
    spacing = torch.nextafter(nearest, torch.tensor(float("inf"))) - nearest
    return (got.double() - exact).abs() / spacing.double()


def test_tanh_is_within_one_and_a_half_ulp_of_float64():
    """Every 257th float32 from 0 to 9.6 (tanh is 1 in float32 from 9.01), 4.2 million numbers;
    every float32 was checked when the kernel was written: at most 1.498 ulp."""
    top = torch.tensor(9.6).view(torch.int32).item()
    x = torch.arange(0, top, 257, dtype=torch.int32).view(torch.float32)
    errors = _ulps(vanilla.tanh(x), torch.tanh(x.double()))
    assert errors.max().item() <= 1.5


def test_tanh_is_odd_and_keeps_signed_zeros_infinities_and_nan():
    x = torch.linspace(-12, 12, 10_001)
    assert torch.equal(vanilla.tanh(-x), -vanilla.tanh(x))
    special = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 1e-40, -1e-30, float("nan")])
    got = vanilla.tanh(special)
    assert got[:6].tolist() == [0.0, -0.0, 1.0, -1.0, special[4].item(), special[5].item()]
    assert torch.signbit(got[1]) and got[6].isnan()
