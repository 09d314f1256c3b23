"""The sweeps' C kernels (atlas.networks.kernels: vanilla, GRU, LSTM) against float64 PyTorch.

The kernels serve float32 CPU sweeps; float64 runs the PyTorch path, which
tests/unit/test_fused_cells.py checks against nn.RNN/GRU/LSTM. Here each kernel's float32
outputs and gradients must be as close to that float64 answer as PyTorch's own float32 path is,
for unit counts on either side of the vector width, batches that are not a multiple of the row
block, one output and several, with and without the readout inside the sweep (without it, the
gradients of the inputs, h0 and an LSTM's cells too); and one thread or two must give the same
bits.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from atlas.networks import from_state_dicts
from atlas.networks.cells import GATES, STATE_FACTOR
from atlas.networks.fused import sweep, sweep_outputs
from atlas.networks.kernels import gru, lstm, vanilla
from atlas.networks.population import PARAMETER_NAMES
from atlas.tasks import get_task

KERNELS = {"vanilla": vanilla, "gru": gru, "lstm": lstm}

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(
        not vanilla.applies(torch.empty(0)), reason="no C compiler: the kernels are not built"
    ),
]


def _network_parameters(arch: str, units: int, outputs: int, k: int, seed: int):
    """K random networks (2 inputs) scaled to keep their states off saturation."""
    generator = torch.Generator().manual_seed(seed)
    rows = GATES[arch] * units

    def draw(*shape, scale=1.0):
        return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

    return [
        draw(k, rows, 2),
        draw(k, rows, units, scale=1.2 / units**0.5),
        draw(k, rows, scale=0.3),
        draw(k, rows, scale=0.3),
        draw(k, outputs, units, scale=0.5),
        draw(k, outputs, scale=0.1),
    ]


def _outputs_and_gradients(arch, parameters, inputs, h0, probes, dtype, with_readout):
    """Outputs (or states) and the gradients of probes . (outputs, cells), in `dtype`: every
    parameter's, and without the readout the inputs' and h0's."""
    leaves = [p.detach().to(dtype).requires_grad_() for p in parameters]
    if with_readout:
        outputs = sweep_outputs(arch, inputs.to(dtype), h0.to(dtype), *leaves)
        loss = (probes[0].to(dtype) * outputs).sum()
    else:
        inputs = inputs.detach().to(dtype).requires_grad_()
        h0 = h0.detach().to(dtype).requires_grad_()
        outputs, cells = sweep(arch, inputs, h0, *leaves[:4])
        loss = (probes[1].to(dtype) * outputs).sum()
        if cells is not None:
            loss = loss + (probes[2].to(dtype) * cells).sum()
        leaves = [*leaves[:4], inputs, h0]
    loss.backward()
    return outputs.detach().double(), [p.grad.double() for p in leaves]


def _errors(answer, expected):
    """The largest error of the outputs and of each gradient, relative to its scale."""
    (outputs, grads), (ref_outputs, ref_grads) = answer, expected
    relative = [float((outputs - ref_outputs).abs().max() / ref_outputs.abs().max())]
    for grad, ref in zip(grads, ref_grads, strict=True):
        relative.append(float((grad - ref).abs().max() / ref.abs().max()))
    return relative


@pytest.mark.parametrize("arch", ["vanilla", "gru", "lstm"])
@pytest.mark.parametrize("with_readout", [True, False], ids=["training", "states"])
@pytest.mark.parametrize(("units", "outputs", "batch"), [(20, 1, 32), (5, 3, 7), (70, 2, 6)])
def test_float32_kernel_is_as_close_to_float64_as_pytorch(
    monkeypatch, arch, units, outputs, batch, with_readout
):
    k, steps = 3, 25
    parameters = _network_parameters(arch, units, outputs, k, seed=units)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(k, steps, batch, 2, generator=generator, dtype=torch.float64)
    h0 = 0.3 * torch.randn(k, batch, STATE_FACTOR[arch] * units, generator=generator).double()
    probes = [
        torch.randn(k, steps, batch, width, generator=generator, dtype=torch.float64)
        for width in (outputs, units, units)
    ]
    case = (arch, parameters, inputs, h0, probes)
    expected = _outputs_and_gradients(*case, torch.float64, with_readout)
    kernel = _errors(_outputs_and_gradients(*case, torch.float32, with_readout), expected)
    monkeypatch.setattr(KERNELS[arch], "applies", lambda states: False)
    pytorch = _errors(_outputs_and_gradients(*case, torch.float32, with_readout), expected)
    for mine, theirs in zip(kernel, pytorch, strict=True):
        assert mine < max(2e-6, 4 * theirs), (kernel, pytorch)


@pytest.mark.parametrize(
    "name", ["delayed_vanilla_20_i100", "reproduction_gru_50_i100", "reproduction_lstm_50_i100"]
)
def test_a_reference_network_trains_on_the_kernel_as_in_float64(
    monkeypatch, reference_networks, name
):
    """The paper's networks at their minimum: the training loss's gradient is a small
    difference of large terms, float32 rounding luck (test_fused_cells.py), which moves with
    the CPU's vector width. The kernel must come as close to float64 as PyTorch's own float32
    path (errors relative to each gradient's scale, LSTM 50's weight_ih: under 1e-3 on an
    AVX-512 EPYC; on an AVX2 one 1.1e-3, PyTorch's float32 2.4e-3)."""
    (ref,) = [r for r in reference_networks if r.name == name]
    valid = get_task(ref.task).validation_set()
    inputs, targets = valid.inputs[:16].double(), valid.targets[:16].double()

    def gradients(dtype):
        population = from_state_dicts([ref.state_dict]).to(dtype)
        outputs = population.training_outputs(inputs.to(dtype)).transpose(1, 2)
        (outputs - targets.to(dtype)).pow(2).mean().backward()
        return {n: getattr(population, n).grad.double() for n in PARAMETER_NAMES}

    def errors(answer):
        return {
            n: float((answer[n] - expected[n]).abs().max() / expected[n].abs().max())
            for n in PARAMETER_NAMES
        }

    expected = gradients(torch.float64)
    kernel = errors(gradients(torch.float32))
    monkeypatch.setattr(KERNELS[ref.architecture], "applies", lambda states: False)
    pytorch = errors(gradients(torch.float32))
    for parameter in PARAMETER_NAMES:
        assert kernel[parameter] < max(1e-3, 2 * pytorch[parameter]), (kernel, pytorch)


@pytest.mark.parametrize("arch", ["vanilla", "gru", "lstm"])
@pytest.mark.parametrize("with_readout", [True, False], ids=["training", "states"])
def test_one_thread_or_two_give_the_same_bits(arch, with_readout):
    parameters = [p.float() for p in _network_parameters(arch, 20, 2, k=5, seed=3)]
    generator = torch.Generator().manual_seed(4)
    inputs = torch.randn(5, 30, 9, 2, generator=generator)
    h0 = torch.randn(5, 9, STATE_FACTOR[arch] * 20, generator=generator)
    probes = [torch.randn(5, 30, 9, width, generator=generator) for width in (2, 20, 20)]
    answers = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        answers.append(
            _outputs_and_gradients(
                arch, parameters, inputs, h0, probes, torch.float32, with_readout
            )
        )
    (outputs_1, grads_1), (outputs_2, grads_2) = answers
    assert torch.equal(outputs_1, outputs_2)
    assert all(torch.equal(a, b) for a, b in zip(grads_1, grads_2, strict=True))


@pytest.mark.parametrize("arch", ["vanilla", "gru", "lstm"])
def test_a_loss_pass_writes_the_training_sweeps_outputs_and_no_states(monkeypatch, arch):
    """Without autograd, sweep_outputs asks the kernel for the outputs alone (no states, nothing
    kept): the same bits as the training sweep's outputs."""
    parameters = [p.float() for p in _network_parameters(arch, 20, 2, k=3, seed=5)]
    inputs, h0 = torch.randn(3, 30, 9, 2), torch.zeros(3, 9, STATE_FACTOR[arch] * 20)
    trained = sweep_outputs(arch, inputs, h0, *[p.requires_grad_() for p in parameters])
    passes = []
    forward = KERNELS[arch].forward
    monkeypatch.setattr(
        KERNELS[arch], "forward", lambda *a, **kw: passes.append(forward(*a, **kw)) or passes[-1]
    )
    with torch.no_grad():
        evaluated = sweep_outputs(arch, inputs, h0, *parameters)
    [(hs, cs, saved, outputs)] = passes
    assert (hs, cs, saved) == (None, None, ())
    assert outputs is evaluated and torch.equal(evaluated, trained.detach())


def test_a_sweep_asked_to_keep_something_unknown_is_refused():
    """One GRU of 4 units, 2 inputs and the ones column, 2 trials of 5 steps."""
    rows, h0 = torch.ones(1, 5 * 2, 3), torch.zeros(1, 2, 4)
    weight_ih, weight_hh, bias_hh = torch.ones(1, 12, 3), torch.ones(1, 12, 4), torch.zeros(1, 12)
    with pytest.raises(ValueError, match="keeps one of"):
        gru.forward(rows, h0, weight_ih, weight_hh, bias_hh, keep="all")


SERIAL_PARENT_FORKS = """
import multiprocessing, torch
from atlas.networks.kernels import vanilla

def sweep(threads):
    torch.set_num_threads(threads)
    weight_ih, weight_hh = torch.randn(4, 8, 2), torch.randn(4, 8, 8) / 3
    vanilla.forward(torch.ones(4, 50, 2), torch.zeros(4, 5, 8), weight_ih, weight_hh, None)

sweep(1)
child = multiprocessing.get_context("fork").Process(target=sweep, args=(2,))
child.start()
child.join(timeout=60)
if child.is_alive():
    child.kill()
raise SystemExit(child.exitcode)
"""


def test_a_worker_forked_from_a_serial_parent_sweeps_on_threads():
    """Celery's prefork pattern, in a fresh process: the parent runs no parallel work (torch's
    rule for forks, which the kernels share: they run on torch's OpenMP threads), its forked
    child sweeps on two threads."""
    done = subprocess.run([sys.executable, "-c", SERIAL_PARENT_FORKS], timeout=120, check=False)
    assert done.returncode == 0


@pytest.mark.parametrize("arch", ["vanilla", "gru", "lstm"])
def test_trials_of_no_steps_have_zero_gradients(arch):
    weight_ih, weight_hh, bias_ih, bias_hh, *_ = (
        p.float() for p in _network_parameters(arch, 6, 1, k=2, seed=6)
    )
    rows = torch.ones(2, 0, 3)
    h0 = torch.randn(2, 4, STATE_FACTOR[arch] * 6)
    augmented = torch.cat([weight_ih, bias_ih.unsqueeze(2)], 2)
    kernel = KERNELS[arch]
    hs, _, saved, _ = kernel.forward(rows, h0, augmented, weight_hh, bias_hh)
    grad = torch.empty(2, 0, 4, 6)
    gradients = kernel.backward(rows, h0, saved, weight_hh, grad, None, torch.zeros_like(grad))
    assert hs.shape == (2, 0, 4, 6)
    assert all(g is None or (g == 0).all() for g in gradients)


def test_a_second_backward_through_a_gated_kernel_is_refused():
    """The backward sweep overwrites the kept gates with their gradients: running it twice
    must fail (autograd's version check), not return wrong gradients."""
    parameters = [p.float().requires_grad_() for p in _network_parameters("lstm", 6, 1, 2, 7)]
    inputs = torch.randn(2, 5, 3, 2)
    outputs = sweep_outputs("lstm", inputs, torch.zeros(2, 3, 12), *parameters)
    outputs.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        outputs.sum().backward()
