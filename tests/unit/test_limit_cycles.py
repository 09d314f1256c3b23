"""Limit cycles: exact on networks whose orbit is known in closed form, verified by re-running
the dynamics for the periods found in the reference networks and the two-neuron model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from atlas.analysis.fixed_point_conditions import sample_initial_states
from atlas.analysis.limit_cycles import find_limit_cycles, find_two_neuron_limit_cycles
from atlas.analysis.two_neuron_regimes import eigenvalue_regimes
from atlas.networks import RNNPopulation, from_state_dicts
from atlas.networks.two_neuron import simulate
from atlas.tasks import get_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def vanilla(weight_hh: torch.Tensor, readout: torch.Tensor) -> RNNPopulation:
    """One vanilla network with the given recurrence and readout, no input drive or biases."""
    units = weight_hh.shape[0]
    return RNNPopulation(
        "vanilla",
        {
            "weight_ih": torch.zeros(1, units, 2),
            "weight_hh": weight_hh[None],
            "bias_ih": torch.zeros(1, units),
            "bias_hh": torch.zeros(1, units),
            "fc_weight": readout[None, None],
            "fc_bias": torch.tensor([[0.25]]),
        },
    )


def test_a_travelling_pulse_has_exactly_its_period():
    """W = 3 * cyclic shift of 5 units: a saturated pattern (+ - - - -) moves one unit a step
    and comes back after exactly 5 steps."""
    shift = torch.roll(torch.eye(5), 1, dims=0)
    readout = torch.arange(1.0, 6.0)
    population = vanilla(3.0 * shift, readout)
    start = torch.tensor([[[1.0, -1.0, -1.0, -1.0, -1.0]]])
    (cycles,) = find_limit_cycles(population, start, torch.zeros(2), steps=200)
    assert len(cycles) == 1
    cycle = cycles[0]
    assert cycle.period == pytest.approx(5.0, abs=1e-6)
    assert cycle.closing_error < 1e-6
    assert cycle.states.shape == (6, 5)
    expected = cycle.states.astype(np.float32) @ readout.numpy() + 0.25
    np.testing.assert_allclose(cycle.outputs[:, 0], expected, rtol=1e-5)
    # the pulse visits every unit once per period
    assert sorted(np.argmax(cycle.states[:5], axis=1)) == [0, 1, 2, 3, 4]


def test_a_rotation_gives_a_quasi_periodic_cycle_with_its_rotation_period():
    """W = 1.2 * rotation by 2 pi / 17.3: tanh bounds an invariant circle travelled at a
    non-integer period; the period found equals the measured mean rotation per step."""
    angle = 2 * math.pi / 17.3
    rotation = torch.tensor(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    population = vanilla(1.2 * rotation, torch.tensor([1.0, 0.0]))
    start = torch.tensor([[[0.3, 0.0], [-0.01, 0.02]]])
    (cycles,) = find_limit_cycles(population, start, torch.zeros(2), steps=3000)
    assert len(cycles) == 1  # both starts reach the same circle
    with torch.no_grad():
        run = population(torch.zeros(1, 3000, 2), initial_state=start[:, :1])
    tail = run.states[0, 0, 2000:].double().numpy()
    turn = np.diff(np.unwrap(np.arctan2(tail[:, 1], tail[:, 0]))).mean()
    assert cycles[0].period == pytest.approx(2 * math.pi / turn, rel=5e-3)
    assert cycles[0].period != pytest.approx(round(cycles[0].period), abs=0.05)


def test_reference_network_cycles_come_back_after_their_period(reference_networks):
    """Zero input after the trial: the delayed networks flip between saturated patterns, the
    reproduction networks repeat their Go output. Re-running the found period closes the orbit,
    and half or a third of it does not."""
    found = {}
    for ref in reference_networks:
        population = from_state_dicts([ref.state_dict])
        starts = sample_initial_states(population, get_task(ref.task), 32)
        (cycles,) = find_limit_cycles(population, starts, torch.zeros(2), steps=2000)
        found[ref.name] = cycles
        for cycle in cycles:
            state = torch.from_numpy(cycle.states[-1]).float()[None, None]
            visited = []
            with torch.no_grad():
                for _ in range(math.ceil(cycle.period) + 1):
                    state = population.step(state, torch.zeros(2))
                    visited.append(state[0, 0].double().numpy())
            step_size = np.linalg.norm(np.diff(cycle.states, axis=0), axis=-1).max()
            back = np.linalg.norm(np.array(visited) - cycle.states[-1], axis=-1)
            returned = back[math.floor(cycle.period) - 1 :].min()
            assert returned <= step_size, ref.name
            # Not a multiple of a shorter period: half or a third of it stays further from the
            # start than the return does, and visibly off the orbit's scale (a quasi-periodic
            # orbit's return is only as close as a step: reproduction_gru_20's period-292
            # orbit of diameter 7 returns within 0.15 and is 0.30 away at half its period).
            for part in (2, 3):
                near = round(cycle.period / part) - 1
                if near >= 1:
                    apart = back[near - 1 : near + 2].min()
                    assert apart > max(returned, 0.02 * cycle.diameter), ref.name
            with torch.no_grad():
                out = population.readout(torch.from_numpy(cycle.states).float()[None])
            np.testing.assert_allclose(cycle.outputs, out[0].double().numpy(), atol=1e-6)
    assert sum(len(c) for c in found.values()) >= 8
    flip_flops = [c.period for c in found["delayed_vanilla_30_i100"]]
    # A whole number of steps, up to the interpolated crossing's float32 round-off (the
    # fused sweep's states give 2 + 5e-9 where the old step gave 2 + 1e-12).
    assert flip_flops and all(p == pytest.approx(round(p), abs=1e-6) for p in flip_flops)
    go_outputs = [c.outputs.max() for n, cs in found.items() if "reproduction" in n for c in cs]
    assert max(go_outputs) > 0.9  # cycles that repeat the Go output


def test_a_stable_fixed_point_is_not_a_cycle(reference_networks):
    ref = next(r for r in reference_networks if r.name == "interval_vanilla_30_i100")
    population = from_state_dicts([ref.state_dict])
    starts = sample_initial_states(population, get_task(ref.task), 32)
    (cycles,) = find_limit_cycles(population, starts, torch.zeros(2), steps=1500)
    assert cycles == []


def test_two_neuron_cycles_exist_where_the_rule_says_and_close_after_their_period():
    w = np.random.default_rng(7).uniform(-1.5, 1.5, (400, 2, 2))
    rule = eigenvalue_regimes(w)
    cycles = find_two_neuron_limit_cycles(torch.from_numpy(w), torch.tensor([1.0, 0.0]))
    has_cycle = np.array([len(c) > 0 for c in cycles])
    assert has_cycle[rule == "stable_origin"].sum() == 0
    assert has_cycle.sum() >= 5  # (where the rule and the dynamics differ: test_two_neuron_study)
    for k in np.nonzero(has_cycle)[0]:
        cycle = cycles[k][0]
        assert cycle.continuous and cycle.period > 0
        start = torch.from_numpy(cycle.states[-1])
        dt = cycle.period / 2000
        later = simulate(torch.from_numpy(w[k : k + 1]), start, 2000, dt, keep_trajectory=True)
        path = later[0, 0].numpy()
        assert np.linalg.norm(path[-1] - path[0]) < 2e-3 * cycle.diameter
        assert np.linalg.norm(path[1000] - path[0]) > 0.3 * cycle.diameter
