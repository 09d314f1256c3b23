"""One step of each architecture for K networks at once, with PyTorch's gate conventions.

`xproj` is the input projection W_ih x + b_ih, already computed (for a whole trial at once when
training); `h` is the state, (K, B, S) with S = units (LSTM: 2 * units, [h, c]).
PyTorch's gate order: GRU (r, z, n), LSTM (i, f, g, o).
"""

from __future__ import annotations

import functools
import time

import torch

GATES = {"vanilla": 1, "gru": 3, "lstm": 4}
STATE_FACTOR = {"vanilla": 1, "gru": 1, "lstm": 2}


def float32_tanh(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """tanh(x), into `out` if given (it may be x), by the faster of two float32 ways on this CPU.

    PyTorch's float32 tanh on the CPU runs at very different speeds by vendor (measured, one
    thread, 64 x 32 x 50): on an AMD EPYC 3-4x slower than its sigmoid (262 us against 71), on
    an Intel Xeon 35 us against 83 us for the identity 2 sigmoid(2x) - 1, whatever
    ATEN_CPU_CAPABILITY. So the choice is timed once per process. The identity's absolute error
    is below 2e-7 (torch.tanh's own: 5e-8), its relative error large only where tanh is below
    1e-7: for the float32 work where that cannot matter (training sweeps, the fixed-point
    search's rough phases); float64 and CUDA tensors always get torch.tanh."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or not _sigmoid_tanh_is_faster():
        return torch.tanh(x, out=out)
    if x.requires_grad:
        return 2 * torch.sigmoid(2 * x) - 1
    out = torch.empty_like(x) if out is None else out
    return _sigmoid_tanh(x, out)


def _sigmoid_tanh(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return torch.mul(x, 2, out=out).sigmoid_().mul_(2).sub_(1)


@functools.cache
def _sigmoid_tanh_is_faster() -> bool:
    """Whether 2 sigmoid(2x) - 1 beats torch.tanh by a clear margin (1.5x) on this CPU, best
    of 5 timings each (about 10 ms, once): the margins measured are 2.4x and 3-4x, so the choice
    does not flip between runs of one machine, and a resumed training rounds as before."""
    x = torch.linspace(-4, 4, 64 * 32 * 50).view(64, 32, 50)
    out = torch.empty_like(x)

    def best(fn) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    via_tanh = best(lambda: torch.tanh(x, out=out))
    via_sigmoid = best(lambda: _sigmoid_tanh(x, out))
    return via_sigmoid * 1.5 < via_tanh


def _recurrent(h: torch.Tensor, weight_hh_t: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(bias_hh.unsqueeze(1), h, weight_hh_t)


def vanilla_step(h, xproj, weight_hh_t, bias_hh):
    return torch.tanh(xproj + _recurrent(h, weight_hh_t, bias_hh))


def gru_step(h, xproj, weight_hh_t, bias_hh):
    x_r, x_z, x_n = xproj.chunk(3, dim=-1)
    h_r, h_z, h_n = _recurrent(h, weight_hh_t, bias_hh).chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (h - n)


def lstm_step(state, xproj, weight_hh_t, bias_hh):
    h, c = state.chunk(2, dim=-1)
    gates = xproj + _recurrent(h, weight_hh_t, bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return torch.cat([h, c], dim=-1)


STEPS = {"vanilla": vanilla_step, "gru": gru_step, "lstm": lstm_step}
