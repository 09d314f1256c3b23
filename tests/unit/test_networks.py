"""Populations against the paper's reference networks and against PyTorch's own modules."""

from __future__ import annotations

import math

import pytest
import torch

from atlas.networks import (
    RNNPopulation,
    from_state_dicts,
    infer_shape,
    to_state_dict,
    torch_network,
)
from atlas.networks.population import initial_parameters
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_all_reference_networks_solve_their_tasks(reference_networks):
    assert len(reference_networks) == 20
    for ref in reference_networks:
        shape = infer_shape(ref.state_dict)
        assert (shape.architecture, shape.units) == (ref.architecture, ref.units)
        population = from_state_dicts([ref.state_dict])
        validation = get_task(ref.task).validation_set()
        with torch.no_grad():
            mse = float(population.mse(validation.inputs, validation.targets)[0])
        assert mse < 2e-4, f"{ref.name}: validation MSE {mse:.2e}"
        # The trainer's chunked, trajectory-free evaluation gives the same number.
        assert float(population_mse(population, validation)[0]) == pytest.approx(mse, rel=1e-4)


def test_state_dict_round_trip_is_exact(reference_networks):
    for ref in reference_networks:
        back = to_state_dict(from_state_dicts([ref.state_dict]), 0)
        assert back.keys() == ref.state_dict.keys()
        for key, value in ref.state_dict.items():
            assert torch.equal(back[key], value), key


def _torch_outputs_and_hidden(state_dict, inputs):
    net = torch_network(state_dict).double()
    with torch.no_grad():
        hidden, _ = net.rnn(inputs)
        return net.fc(hidden), hidden


def _assert_matches_torch(state_dicts, inputs):
    population = from_state_dicts(state_dicts).double()
    with torch.no_grad():
        run = population(inputs)
    units = population.units
    for k, state_dict in enumerate(state_dicts):
        outputs, hidden = _torch_outputs_and_hidden(state_dict, inputs)
        assert torch.allclose(run.outputs[k], outputs, atol=1e-6, rtol=0)
        assert torch.allclose(run.states[k][..., :units], hidden, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("task", "architecture"),
    [("delayed", "vanilla"), ("reproduction", "gru"), ("reproduction", "lstm")],
)
def test_forward_equals_pytorch_on_reference_weights(reference_networks, task, architecture):
    refs = [r for r in reference_networks if (r.task, r.architecture) == (task, architecture)]
    inputs = get_task(task).validation_set().inputs.double()
    for ref in refs[:2]:
        _assert_matches_torch([ref.state_dict], inputs)


@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm"])
def test_forward_equals_pytorch_on_random_weights(architecture):
    # Larger than the paper's initialisation, so that the dynamics are far from linear.
    population = RNNPopulation.initialise(architecture, 16, seeds=[1, 2, 3])
    state_dicts = [
        {key: value * 8 for key, value in to_state_dict(population, k).items()} for k in range(3)
    ]
    inputs = torch.randn(5, 40, 2, generator=torch.Generator().manual_seed(0)).double()
    _assert_matches_torch(state_dicts, inputs)


def test_lstm_state_is_h_then_c(reference_networks):
    ref = next(r for r in reference_networks if r.architecture == "lstm")
    inputs = get_task("reproduction").validation_set().inputs[:3].double()
    net = torch_network(ref.state_dict).double()
    with torch.no_grad():
        _, (h_last, c_last) = net.rnn(inputs)
        run = from_state_dicts([ref.state_dict]).double()(inputs)
    last = run.states[0, :, -1]
    assert torch.allclose(last[:, : ref.units], h_last[0], atol=1e-6)
    assert torch.allclose(last[:, ref.units :], c_last[0], atol=1e-6)


@pytest.mark.parametrize("architecture", ["vanilla", "gru", "lstm"])
def test_initialisations_draw_the_same_numbers_at_two_scales(architecture):
    """ "pytorch" is U(-1/sqrt(units), 1/sqrt(units)); "scaled" divides it by sqrt(units)."""
    units = 36
    scaled = initial_parameters(architecture, units, 2, 1, seed=5)
    pytorch = initial_parameters(architecture, units, 2, 1, seed=5, initialisation="pytorch")
    bound = 1 / math.sqrt(units)
    for name, weights in pytorch.items():
        assert weights.abs().max() <= bound
        if weights.numel() >= 36:  # spread over the whole interval
            assert weights.abs().max() > 0.9 * bound, name
        torch.testing.assert_close(scaled[name], weights / math.sqrt(units), rtol=1e-6, atol=0)
    hidden = pytorch["weight_hh"].double()
    assert hidden.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    with pytest.raises(ValueError, match="unknown initialisation 'xavier'"):
        initial_parameters(architecture, units, 2, 1, seed=5, initialisation="xavier")
