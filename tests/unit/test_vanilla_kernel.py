"""The vanilla sweep's C kernel (atlas.networks.kernels) against float64 PyTorch.

The kernel serves float32 CPU sweeps; float64 runs the PyTorch path, which
tests/unit/test_fused_cells.py checks against nn.RNN. Here the kernel's float32 outputs and
gradients must be as close to that float64 answer as PyTorch's own float32 path is, for unit
counts on either side of its vector width, batches that are not a multiple of its row block,
one output and several, with and without the readout inside the sweep; and one thread or two
must give the same bits.
"""

from __future__ import annotations

import multiprocessing

import pytest
import torch

from atlas.networks import from_state_dicts
from atlas.networks.fused import sweep, sweep_outputs
from atlas.networks.kernels import vanilla as vanilla_kernel
from atlas.networks.population import PARAMETER_NAMES
from atlas.tasks import get_task

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(
        not vanilla_kernel.applies(torch.empty(0)), reason="no C compiler: the kernel is not built"
    ),
]


def _network_parameters(units: int, outputs: int, k: int, seed: int) -> list[torch.Tensor]:
    """K random vanilla networks (2 inputs) scaled to keep their states off saturation."""
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape, scale=1.0):
        return torch.randn(*shape, generator=generator, dtype=torch.float64) * scale

    return [
        draw(k, units, 2),
        draw(k, units, units, scale=1.2 / units**0.5),
        draw(k, units, scale=0.1),
        draw(k, units, scale=0.1),
        draw(k, outputs, units, scale=0.5),
        draw(k, outputs, scale=0.1),
    ]


def _outputs_and_gradients(parameters, inputs, probe, dtype, with_readout):
    """Outputs (or states) and every parameter's gradient of probe . outputs, in `dtype`."""
    leaves = [p.detach().to(dtype).requires_grad_() for p in parameters]
    k, batch, units = leaves[1].shape[0], inputs.shape[2], leaves[1].shape[1]
    h0 = torch.zeros(k, batch, units, dtype=dtype)
    if with_readout:
        outputs = sweep_outputs("vanilla", inputs.to(dtype), h0, *leaves)
    else:  # the states, differentiable in the inputs too
        inputs = inputs.detach().to(dtype).requires_grad_()
        outputs, _ = sweep("vanilla", inputs, h0, *leaves[:4])
        leaves = [*leaves[:4], inputs]
    (probe.to(dtype) * outputs).sum().backward()
    return outputs.detach().double(), [p.grad.double() for p in leaves]


def _errors(answer, expected):
    """The largest error of the outputs and of each gradient, relative to its scale."""
    (outputs, grads), (ref_outputs, ref_grads) = answer, expected
    relative = [float((outputs - ref_outputs).abs().max() / ref_outputs.abs().max())]
    for grad, ref in zip(grads, ref_grads, strict=True):
        relative.append(float((grad - ref).abs().max() / ref.abs().max()))
    return relative


@pytest.mark.parametrize("with_readout", [True, False], ids=["training", "states"])
@pytest.mark.parametrize(("units", "outputs", "batch"), [(20, 1, 32), (5, 3, 7), (70, 2, 6)])
def test_float32_kernel_is_as_close_to_float64_as_pytorch(
    monkeypatch, units, outputs, batch, with_readout
):
    k, steps = 3, 25
    parameters = _network_parameters(units, outputs, k, seed=units)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(k, steps, batch, 2, generator=generator, dtype=torch.float64)
    width = outputs if with_readout else units
    probe = torch.randn(k, steps, batch, width, generator=generator, dtype=torch.float64)
    case = (parameters, inputs, probe)
    expected = _outputs_and_gradients(*case, torch.float64, with_readout)
    kernel = _errors(_outputs_and_gradients(*case, torch.float32, with_readout), expected)
    monkeypatch.setattr(vanilla_kernel, "applies", lambda states: False)
    pytorch = _errors(_outputs_and_gradients(*case, torch.float32, with_readout), expected)
    for mine, theirs in zip(kernel, pytorch, strict=True):
        assert mine < max(2e-6, 4 * theirs), (kernel, pytorch)


def test_a_reference_network_trains_on_the_kernel_as_in_float64(reference_networks):
    """The paper's `delayed` vanilla 20 network at its minimum: the training loss's gradient
    is a small difference of large terms, float32 rounding luck (test_fused_cells.py)."""
    (ref,) = [r for r in reference_networks if r.name == "delayed_vanilla_20_i100"]
    valid = get_task(ref.task).validation_set()
    inputs, targets = valid.inputs[:16].double(), valid.targets[:16].double()
    gradients = {}
    for dtype in (torch.float64, torch.float32):
        population = from_state_dicts([ref.state_dict]).to(dtype)
        outputs = population.training_outputs(inputs.to(dtype)).transpose(1, 2)
        (outputs - targets.to(dtype)).pow(2).mean().backward()
        gradients[dtype] = {n: getattr(population, n).grad.double() for n in PARAMETER_NAMES}
    for name in PARAMETER_NAMES:
        expected = gradients[torch.float64][name]
        error = (gradients[torch.float32][name] - expected).abs().max() / expected.abs().max()
        assert error < 1e-3, (name, float(error))


def test_one_thread_or_two_give_the_same_bits():
    parameters = [p.float() for p in _network_parameters(20, 2, k=5, seed=3)]
    generator = torch.Generator().manual_seed(4)
    inputs = torch.randn(5, 30, 9, 2, generator=generator)
    probe = torch.randn(5, 30, 9, 2, generator=generator)
    answers = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        answers.append(_outputs_and_gradients(parameters, inputs, probe, torch.float32, True))
    (outputs_1, grads_1), (outputs_2, grads_2) = answers
    assert torch.equal(outputs_1, outputs_2)
    assert all(torch.equal(a, b) for a, b in zip(grads_1, grads_2, strict=True))


def _two_thread_kernel_sweep() -> None:
    """The kernel alone: PyTorch's own parallel regions do not survive a fork (OpenMP)."""
    torch.set_num_threads(2)
    weight_ih, weight_hh, *_ = (p.float() for p in _network_parameters(8, 1, k=4, seed=5))
    rows = torch.ones(1, 10 * 5, 2).expand(4, -1, -1)
    vanilla_kernel.forward(rows, torch.zeros(4, 5, 8), weight_ih, weight_hh)


def test_a_forked_worker_sweeps_on_threads_of_its_own():
    """A Celery worker forks from a parent that may have swept already: the parent's pool of
    threads does not exist in the child, which must not wait on it."""
    _two_thread_kernel_sweep()
    child = multiprocessing.get_context("fork").Process(target=_two_thread_kernel_sweep)
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0


def test_trials_of_no_steps_have_zero_gradients():
    weight_ih, weight_hh, *_ = (p.float() for p in _network_parameters(6, 1, k=2, seed=6))
    rows, h0 = torch.ones(2, 0, 3), torch.randn(2, 4, 6)
    hs, _ = vanilla_kernel.forward(
        rows, h0, torch.cat([weight_ih, weight_ih[..., :1]], 2), weight_hh
    )
    grad = torch.empty(2, 0, 4, 6)
    gradients = vanilla_kernel.backward(rows, h0, hs, weight_hh, grad, None)
    assert hs.shape == (2, 0, 4, 6)
    assert all(g is None or (g == 0).all() for g in gradients)
