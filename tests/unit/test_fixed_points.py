"""Fixed and slow points: exact on the two-neuron model, polished and differentiated correctly on
the paper's reference networks (vanilla, GRU, LSTM), batched without cross-talk, and equivariant
under a permutation of the hidden units."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from atlas.analysis.fixed_point_conditions import (
    analyse_fixed_points,
    constant_inputs,
    sample_initial_states,
)
from atlas.analysis.fixed_point_coverage import START_KINDS, CoverageConfig, covering_search
from atlas.analysis.fixed_point_search import CACHE_ELEMENTS, FixedPointConfig, minimise_speed
from atlas.analysis.fixed_points import (
    DynamicalSystem,
    find_fixed_points,
    find_two_neuron_fixed_points,
    population_system,
    solve_fixed_points,
)
from atlas.analysis.state_bounds import fixed_point_box
from atlas.networks import RNNPopulation, from_state_dicts
from atlas.networks.cells import GATES
from atlas.tasks import get_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def exact_two_neuron_roots(w: np.ndarray, grid: int = 20001) -> np.ndarray:
    """Every root of x = W tanh(x), independently of the finder: a 1-D problem.

    With b the other coordinate, x_a = W_aa tanh(x_a) + W_ab tanh(x_b) gives
    x_b = artanh((x_a - W_aa tanh(x_a)) / W_ab); the roots are the zeros of
    g(x_a) = x_b - W_ba tanh(x_a) - W_bb tanh(x_b) on |x_a| <= |W_aa| + |W_ab|: sign changes on a
    dense grid, each polished by Brent's method.
    """
    a, b = (0, 1) if abs(w[0, 1]) >= abs(w[1, 0]) else (1, 0)

    def other(xa):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.arctanh((xa - w[a, a] * np.tanh(xa)) / w[a, b])

    def g(xa):
        xb = other(xa)
        return xb - w[b, a] * np.tanh(xa) - w[b, b] * np.tanh(xb)

    xs = np.linspace(-np.abs(w[a]).sum(), np.abs(w[a]).sum(), grid)
    gs = g(xs)
    both = np.isfinite(gs[:-1]) & np.isfinite(gs[1:])
    change = both & (np.sign(gs[:-1]) * np.sign(gs[1:]) < 0)
    roots = [brentq(g, xs[i], xs[i + 1], xtol=1e-15) for i in np.nonzero(change)[0]]
    roots += list(xs[gs == 0])
    points = np.zeros((len(roots), 2))
    points[:, a] = roots
    points[:, b] = other(np.array(roots))
    return points


def test_two_neuron_fixed_points_match_exact_roots():
    w = np.random.default_rng(4).uniform(-1.5, 1.5, (1000, 2, 2))
    sets = find_two_neuron_fixed_points(torch.from_numpy(w))
    matched = 0
    for wk, points in zip(w, sets, strict=True):
        truth = exact_two_neuron_roots(wk)
        found = points.states[points.fixed]
        if len(found) == len(truth):
            gap = np.abs(truth[:, None] - found[None]).max(-1).min(1)
            matched += bool(gap.max() < 1e-8)
        jacobian = wk * (1 - np.tanh(points.states) ** 2)[:, None, :] - np.eye(2)
        np.testing.assert_allclose(points.jacobians, jacobian, atol=1e-12)
        assert np.array_equal(points.stable, (np.linalg.eigvals(jacobian).real < 0).all(-1))
    assert matched >= 990
    # the odd symmetry of tanh: every W has the origin, and roots come in pairs +-x
    counts = [int(p.fixed.sum()) for p in sets]
    assert set(counts) <= {1, 3, 5, 7, 9} and max(counts) >= 3


def test_starts_above_the_q_limit_are_not_searched():
    """x = 2 tanh(x) on the first axis has three roots (0 and about +-1.915); the start at -1
    (q about 0.14) is skipped under start_q_limit 1e-2, the two near roots are not."""
    w = torch.tensor([[[2.0, 0.0], [0.0, 0.5]]], dtype=torch.float64)
    starts = torch.tensor([[[1.9, 0.0], [0.05, 0.0], [-1.0, 0.0]]], dtype=torch.float64)
    limited = FixedPointConfig(adam_steps=0, start_q_limit=1e-2)
    (points,) = find_two_neuron_fixed_points(w, starts, limited)
    assert sorted(np.round(points.states[:, 0], 3)) == [0.0, 1.915]
    assert points.destinations[2] == -1 and (points.destinations[:2] >= 0).all()
    (everything,) = find_two_neuron_fixed_points(w, starts, FixedPointConfig(adam_steps=0))
    assert sorted(np.round(everything.states[:, 0], 3)) == [-1.915, 0.0, 1.915]
    with pytest.raises(ValueError, match="start_q_limit"):
        FixedPointConfig(start_q_limit=0.0)


def test_adam_takes_the_steps_of_torch_optim_adam():
    """The in-place Adam, run in cache-sized chunks of points, is torch.optim.Adam with the
    ExponentialLR schedule it replaces."""
    gen = torch.Generator().manual_seed(0)
    w = 1.5 * torch.randn(3, 40, 40, generator=gen) / 40**0.5
    states = torch.randn(3, 2500, 40, generator=gen)
    assert states.numel() > CACHE_ELEMENTS

    def residual(h):
        return torch.tanh(h @ w.mT) - h

    config = FixedPointConfig(adam_steps=25)
    ours = minimise_speed(residual, states, config)
    x = states.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=config.learning_rate)
    decay = (config.final_learning_rate / config.learning_rate) ** (1 / config.adam_steps)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, decay)
    for _ in range(config.adam_steps):
        optimiser.zero_grad()
        (0.5 * residual(x).pow(2).sum()).backward()
        optimiser.step()
        schedule.step()
    assert (ours - states).abs().max() > 0.1
    torch.testing.assert_close(ours, x.detach(), rtol=1e-5, atol=1e-6)


def test_a_slow_point_is_found_where_q_has_a_non_zero_minimum():
    """dx/dt = (x^2 + c, y) has no fixed point; q = 0.5 ((x^2 + c)^2 + y^2) is smallest, c^2 / 2,
    at the origin, where the residual is orthogonal to the range of the (singular) Jacobian.
    Newton's steps jump about there; the damped steps must settle on it."""
    c = 1e-4

    def flow(dtype: torch.dtype) -> DynamicalSystem:
        def dynamics(s):
            return torch.stack([s[..., 0] ** 2 + c, s[..., 1]], dim=-1)

        def jacobian(s):
            return torch.diag_embed(torch.stack([2 * s[..., 0], torch.ones_like(s[..., 1])], -1))

        return DynamicalSystem(dynamics, jacobian, lambda s: s, True, lambda rows: flow(dtype))

    gen = torch.Generator().manual_seed(0)
    starts = 2 * torch.rand(4, 6, 2, generator=gen, dtype=torch.float64) - 1
    for adam_steps in (0, 200):
        for points in solve_fixed_points(flow, starts, FixedPointConfig(adam_steps=adam_steps)):
            assert list(points.kinds) == ["slow"]
            np.testing.assert_allclose(points.states, 0.0, atol=1e-9)
            np.testing.assert_allclose(points.q, c**2 / 2, rtol=1e-6)


def finite_difference_jacobian(population, states, inputs, eps=1e-6):
    """Central differences of one step, (K, P, S, S), in float64."""
    k, p, s = states.shape
    shift = eps * torch.eye(s, dtype=torch.float64)
    plus = (states[:, :, None, :] + shift).reshape(k, p * s, s)
    minus = (states[:, :, None, :] - shift).reshape(k, p * s, s)
    u = inputs[:, None, :].expand(-1, p * s, -1)
    diff = (population.step(plus, u) - population.step(minus, u)) / (2 * eps)
    return diff.reshape(k, p, s, s).transpose(-1, -2)


@pytest.fixture(scope="module")
def reference_analyses(reference_networks):
    """Every reference network, imported from its state dict and analysed as the workers do."""
    out = []
    for ref in reference_networks:
        population = from_state_dicts([ref.state_dict])
        task = get_task(ref.task)
        out.append((ref, population, analyse_fixed_points(population, task)[0]))
    return out


def test_reference_fixed_points_are_polished_with_exact_jacobians(reference_analyses):
    architectures = set()
    for ref, population, analysis in reference_analyses:
        architectures.add(ref.architecture)
        task = get_task(ref.task)
        assert [c.label for c in analysis.conditions] == [lab for lab, _ in constant_inputs(task)]
        pop64 = population.select([0]).double()
        true_points = 0
        for condition in analysis.conditions:
            points = condition.points
            fixed = points.fixed
            true_points += int(fixed.sum())
            assert (points.q[fixed] < 1e-10).all(), ref.name
            assert (points.q[~fixed] < 1e-6).all(), ref.name
            if len(points) == 0:
                continue
            states = torch.from_numpy(points.states)[None]
            u = torch.from_numpy(condition.inputs).double()[None]
            with torch.no_grad():
                moved = pop64.step(states, u.expand(1, len(points), -1))
                numeric = finite_difference_jacobian(pop64, states, u)[0].numpy()
            q = 0.5 * (moved - states).pow(2).sum(-1)[0].numpy()
            np.testing.assert_allclose(q, points.q, rtol=1e-6, atol=1e-25)
            np.testing.assert_allclose(points.jacobians, numeric, atol=1e-7, err_msg=ref.name)
            np.testing.assert_allclose(
                points.outputs, pop64.readout(states)[0].detach().numpy(), atol=1e-12
            )
            moduli = np.abs(points.eigenvalues)
            assert np.array_equal(points.stable, (moduli < 1).all(-1))
        assert true_points >= 1, ref.name
    assert architectures == {"vanilla", "gru", "lstm"}


def test_stable_fixed_points_attract_and_unstable_ones_repel(reference_analyses):
    """The eigenvalues say what the dynamics do: nudged off a point, the state returns to a stable
    one and leaves an unstable one along its leading eigenvector."""
    checked = {"stable": 0, "unstable": 0}
    for _, population, analysis in reference_analyses:
        pop64 = population.select([0]).double()
        for condition in analysis.conditions:
            points = condition.points
            for p in np.nonzero(points.fixed)[0]:
                moduli = np.abs(points.eigenvalues[p])
                if moduli.max() < 0.98:
                    kick = np.full(points.states.shape[1], 1e-5)
                    kind = "stable"
                elif moduli.max() > 1.05:
                    vals, vecs = np.linalg.eig(points.jacobians[p])
                    kick = 1e-8 * np.real(vecs[:, np.argmax(np.abs(vals))])
                    kind = "unstable"
                else:
                    continue
                start = torch.from_numpy(points.states[p] + kick)[None, None]
                u = torch.from_numpy(condition.inputs).double()
                state = start
                with torch.no_grad():
                    for _ in range(400):
                        state = pop64.step(state, u)
                distance = np.linalg.norm(state[0, 0].numpy() - points.states[p])
                initial = np.linalg.norm(kick)
                assert distance < initial if kind == "stable" else distance > 10 * initial
                checked[kind] += 1
    assert checked["stable"] >= 10 and checked["unstable"] >= 10


def test_vanilla_step_and_speed_gradient_match_the_network_and_autograd(reference_networks):
    """The search's own vanilla step (float32: tanh as 2 sigmoid(2x) - 1) is the network's step,
    and its closed-form gradient of q is autograd's."""
    refs = [r for r in reference_networks if r.architecture == "vanilla" and r.units == 50]
    population = from_state_dicts([r.state_dict for r in refs])
    inputs = torch.tensor([0.3, -0.2])
    gen = torch.Generator().manual_seed(3)
    starts = torch.randn(len(refs), 16, population.units, generator=gen, dtype=torch.float64)
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 2e-6)):
        system = population_system(population, inputs)(dtype)
        states = starts.to(dtype)
        with torch.no_grad():
            expected_step = population.double().step(starts, inputs.double())
        step = system.dynamics(states).double()
        torch.testing.assert_close(step, expected_step, atol=tol, rtol=0)
        x = states.clone().requires_grad_(True)
        r = system.residual(x)
        (expected,) = torch.autograd.grad(r, x, r.detach())
        torch.testing.assert_close(system.speed_gradient(states), expected, atol=5 * tol, rtol=0)


def test_batched_population_equals_one_network_at_a_time(reference_networks):
    """Three 20-unit vanilla networks trained on different tasks share one search without
    cross-talk: each gets the points it gets alone."""
    refs = [r for r in reference_networks if r.architecture == "vanilla" and r.units == 20]
    population = from_state_dicts([r.state_dict for r in refs])
    task = get_task("reproduction")
    starts = sample_initial_states(population, task, 48)
    inputs = torch.tensor([0.0, 1.0])
    together = find_fixed_points(population, inputs, starts)
    for k in range(len(refs)):
        alone = find_fixed_points(population.select([k]), inputs, starts[k : k + 1])[0]
        batched = together[k]
        np.testing.assert_array_equal(alone.kinds, batched.kinds)
        np.testing.assert_allclose(alone.states, batched.states, atol=1e-9)
        np.testing.assert_array_equal(alone.stable, batched.stable)


def permuted(population: RNNPopulation, perm: torch.Tensor) -> RNNPopulation:
    """The same network with its hidden units relabelled by perm (every gate block alike)."""
    gates = GATES[population.architecture]
    units = population.units
    rows = torch.cat([g * units + perm for g in range(gates)])
    p = population.stacked_parameters()
    return RNNPopulation(
        population.architecture,
        {
            "weight_ih": p["weight_ih"][:, rows],
            "weight_hh": p["weight_hh"][:, rows][:, :, perm],
            "bias_ih": p["bias_ih"][:, rows],
            "bias_hh": p["bias_hh"][:, rows],
            "fc_weight": p["fc_weight"][:, :, perm],
            "fc_bias": p["fc_bias"],
        },
    )


@pytest.mark.parametrize(
    "name", ["delayed_vanilla_30_i100", "reproduction_gru_20_i100", "reproduction_lstm_20_i100"]
)
def test_permuting_hidden_units_permutes_the_fixed_points(reference_networks, name):
    ref = next(r for r in reference_networks if r.name == name)
    population = from_state_dicts([ref.state_dict])
    perm = torch.randperm(population.units, generator=torch.Generator().manual_seed(1))
    state_perm = perm if ref.architecture != "lstm" else torch.cat([perm, perm + ref.units])
    shuffled = permuted(population, perm)
    task = get_task(ref.task)
    starts = sample_initial_states(population, task, 48)
    config = FixedPointConfig()
    for label, inputs in constant_inputs(task)[:3]:
        original = find_fixed_points(population, inputs, starts, config)[0]
        relabelled = find_fixed_points(shuffled, inputs, starts[:, :, state_perm], config)[0]
        a, b = original.fixed, relabelled.fixed
        assert a.sum() == b.sum(), label
        if a.sum() == 0:
            continue
        mapped = original.states[a][:, state_perm.numpy()]
        gap = np.abs(mapped[:, None] - relabelled.states[b][None]).max(-1)
        match = gap.argmin(1)
        assert gap.min(1).max() < 1e-9, label
        np.testing.assert_allclose(original.outputs[a], relabelled.outputs[b][match], atol=1e-9)
        np.testing.assert_array_equal(original.stable[a], relabelled.stable[b][match])
        moduli = np.sort(np.abs(original.eigenvalues[a]), -1)
        moduli_relabelled = np.sort(np.abs(relabelled.eigenvalues[b][match]), -1)
        np.testing.assert_allclose(moduli, moduli_relabelled, atol=1e-8)


def test_bad_arguments_are_refused(reference_networks):
    population = from_state_dicts([reference_networks[0].state_dict])
    with pytest.raises(ValueError, match="initial_states"):
        find_fixed_points(population, torch.zeros(2), torch.zeros(1, 4, 3))
    with pytest.raises(ValueError, match="channels"):
        find_fixed_points(population, torch.zeros(3), torch.zeros(1, 4, population.state_size))
    with pytest.raises(ValueError, match="fixed_tol"):
        FixedPointConfig(fixed_tol=1e-3, slow_tol=1e-6)
    one_input = {**reference_networks[0].state_dict}
    one_input["rnn.weight_ih_l0"] = one_input["rnn.weight_ih_l0"][:, :1]
    with pytest.raises(ValueError, match="inputs"):
        analyse_fixed_points(from_state_dicts([one_input]), get_task("delayed"))


def test_fixed_points_command_prints_the_analysis(reference_networks, capsys):
    from atlas.cli import main

    ref = next(r for r in reference_networks if r.name == "reproduction_gru_20_i100")
    assert main(["fixed-points", "--task", "rsg", "--weights", str(ref.weights_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["task"], report["architecture"], report["units"]) == ("reproduction", "gru", 20)
    assert [c["condition"] for c in report["conditions"]] == ["zero", "set=1", "ready=1"]
    expected = analyse_fixed_points(from_state_dicts([ref.state_dict]), get_task("reproduction"))
    for condition, analysed in zip(report["conditions"], expected[0].conditions, strict=True):
        assert condition["count"] == len(analysed.points)
        for point in condition["points"]:
            assert "state" not in point and point["state_norm"] >= 0
            assert point["kind"] in ("fixed", "slow") and point["q"] < 1e-6
            assert len(point["eigenvalue_moduli"]) == 20
            assert point["stable"] == (max(point["eigenvalue_moduli"]) < 1)


def test_fixed_points_command_on_a_two_neuron_w_and_bad_files(tmp_path, capsys):
    from atlas.cli import main

    w = tmp_path / "w.npy"
    np.save(w, np.array([[2.0, 0.0], [0.0, 0.5]]))  # x1 = 2 tanh(x1): three roots, x2 = 0
    assert main(["fixed-points", "--task", "two_neuron", "--weights", str(w)]) == 0
    (condition,) = json.loads(capsys.readouterr().out)["conditions"]
    states = sorted(p["state"][0] for p in condition["points"])
    assert states[1] == pytest.approx(0.0, abs=1e-12)
    assert states[2] == pytest.approx(-states[0]) and states[2] == pytest.approx(1.9150080, 1e-6)
    assert [p["stable"] for p in condition["points"]].count(True) == 2
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a state dict")
    assert main(["fixed-points", "--task", "delayed", "--weights", str(bad)]) == 2
    assert "state dict" in capsys.readouterr().err
    assert main(["fixed-points", "--task", "delayed", "--weights", str(tmp_path / "no.pt")]) == 2


# ------------------------------------------------------------------ coverage of the state space

PLAIN = {"vanilla": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}
FREE_RUN_STATES, FREE_RUN_STEPS, CELL_RANGE = 1000, 400, 8.0
"""Ground truth: 1,000 random states (h uniform in (-1, 1)^N; an LSTM's c uniform in +-8, past
the |c| < 3.3 the reference networks visit) run freely for 400 steps by plain torch.nn modules."""


def plain_rnn(ref, dtype=torch.float64) -> torch.nn.Module:
    """The reference network's recurrent layer as a plain nn.RNN / nn.GRU / nn.LSTM."""
    rnn = PLAIN[ref.architecture](2, ref.units, batch_first=True)
    rnn.load_state_dict({k[4:]: v for k, v in ref.state_dict.items() if k.startswith("rnn.")})
    return rnn.to(dtype).requires_grad_(False)


def plain_step(rnn: torch.nn.Module, architecture: str, inputs: torch.Tensor):
    """One step of the plain module on flat states (B, S) (an LSTM's [h, c]) under `inputs`."""

    def step(states: torch.Tensor) -> torch.Tensor:
        u = inputs.to(states.dtype).expand(states.shape[0], 1, -1)
        if architecture != "lstm":
            return rnn(u, states[None])[1][0]
        h, c = states.chunk(2, dim=-1)
        _, (h, c) = rnn(u, (h[None].contiguous(), c[None].contiguous()))
        return torch.cat([h[0], c[0]], -1)

    return step


def plain_jacobian(step, states: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """dF/dh of the plain module at states (R, S) by central differences, all in one call."""
    count, size = states.shape
    shift = eps * torch.eye(size, dtype=states.dtype)
    plus = (states[:, None, :] + shift).reshape(-1, size)
    minus = (states[:, None, :] - shift).reshape(-1, size)
    with torch.no_grad():
        diff = (step(plus) - step(minus)).reshape(count, size, size) / (2 * eps)
    return diff.mT


def plain_q(step, states: torch.Tensor) -> torch.Tensor:
    """q of the plain module at states (..., S)."""
    flat = states.reshape(-1, states.shape[-1])
    with torch.no_grad():
        return 0.5 * (step(flat) - flat).pow(2).sum(-1).reshape(states.shape[:-1])


def newton_roots(step, states: torch.Tensor, iterations: int = 40):
    """Fixed points of `step` from states (R, S), Newton's method in float64 on the plain module
    with the best of a few step fractions: the points and their q."""
    x = states.double().clone()
    fractions = torch.tensor([1.0, 0.5, 0.25, 0.1, 0.01], dtype=x.dtype)
    rows = torch.arange(len(x))
    for _ in range(iterations):
        with torch.no_grad():
            r = step(x) - x
        a = plain_jacobian(step, x) - torch.eye(x.shape[1], dtype=x.dtype)
        dx = torch.linalg.lstsq(a, -r.unsqueeze(-1)).solution.squeeze(-1)
        trials = x[:, None] + fractions[:, None] * dx[:, None]
        q = plain_q(step, trials)
        best = q.argmin(1)
        better = q[rows, best] < plain_q(step, x)
        x = torch.where(better[:, None], trials[rows, best], x)
        if (plain_q(step, x) < 1e-28).all():
            break
    return x, plain_q(step, x)


def free_run_attractors(ref) -> list[np.ndarray]:
    """The stable fixed points that long zero-input free runs from random states settle at:
    ends still moving less than 1e-3 per step, grouped, polished by Newton on the plain float64
    module, kept where the point is stable and the run ended within 0.05 of it."""
    gen = torch.Generator().manual_seed(7)
    rnn = plain_rnn(ref, torch.float32)
    h = 2 * torch.rand(1, FREE_RUN_STATES, ref.units, generator=gen) - 1
    state = h
    if ref.architecture == "lstm":
        c = CELL_RANGE * (2 * torch.rand(1, FREE_RUN_STATES, ref.units, generator=gen) - 1)
        state = (h, c)
    silence = torch.zeros(FREE_RUN_STATES, FREE_RUN_STEPS // 5, 2)
    with torch.no_grad():
        for _ in range(5):
            _, state = rnn(silence, state)
    flat = torch.cat([s[0] for s in state], -1) if isinstance(state, tuple) else state[0]
    step32 = plain_step(rnn, ref.architecture, torch.zeros(2))
    with torch.no_grad():
        settled = flat[(step32(flat) - flat).norm(dim=-1) < 1e-3].double()
    step = plain_step(plain_rnn(ref), ref.architecture, torch.zeros(2, dtype=torch.float64))
    groups = []
    while len(settled):
        near = (settled - settled[0]).norm(dim=-1) < 0.1
        groups.append(settled[near])
        settled = settled[~near]
    if not groups:
        return []
    points, q = newton_roots(step, torch.stack([g[0] for g in groups]))
    radius = torch.linalg.eigvals(plain_jacobian(step, points)).abs().amax(-1)
    return [
        point.numpy()
        for point, qp, rho, group in zip(points, q, radius, groups, strict=True)
        if qp < 1e-24 and rho < 1 and (group - point).norm(dim=-1).min() < 0.05
    ]


def test_every_stable_point_that_free_runs_reach_is_found(reference_analyses):
    """Zero-input free runs from 1,000 random states: every stable fixed point they settle at
    is among the stable fixed points the analysis reports (the LSTMs' far attractors too)."""
    reached = {}
    for ref, _, analysis in reference_analyses:
        zero = analysis.conditions[0]
        assert zero.label == "zero"
        stable = zero.points.states[zero.points.fixed & zero.points.stable]
        for attractor in free_run_attractors(ref):
            gap = np.abs(stable - attractor).max(-1).min() if len(stable) else np.inf
            assert gap < 1e-7, f"{ref.name}: a stable point {gap:.3g} from every reported one"
            reached[ref.name] = reached.get(ref.name, 0) + 1
    assert reached.get("reproduction_lstm_40_i100") and reached.get("reproduction_lstm_50_i100")
    assert len(reached) >= 10


def test_reported_points_pass_an_independent_float64_check(reference_analyses):
    """q of every reported point recomputed by the plain nn.RNN / nn.GRU / nn.LSTM in float64:
    true fixed points below fixed_tol, slow points below slow_tol."""
    config = FixedPointConfig()
    for ref, _, analysis in reference_analyses:
        rnn = plain_rnn(ref)
        for condition in analysis.conditions:
            points = condition.points
            if len(points) == 0:
                continue
            step = plain_step(rnn, ref.architecture, torch.from_numpy(condition.inputs))
            states = torch.from_numpy(points.states)
            with torch.no_grad():
                q = 0.5 * (step(states) - states).pow(2).sum(-1).numpy()
            assert (q[points.fixed] < config.fixed_tol).all(), (ref.name, condition.label)
            assert (q[~points.fixed] < config.slow_tol).all(), (ref.name, condition.label)


def cell_bound(ref, inputs: np.ndarray) -> np.ndarray:
    """|c| <= max|i g| / (1 - max f) per unit over |h| < 1: the LSTM cell's reachable box."""
    sd = {k: v.double().numpy() for k, v in ref.state_dict.items()}
    constant = sd["rnn.weight_ih_l0"] @ inputs + sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"]
    spread = np.abs(sd["rnn.weight_hh_l0"]).sum(1)
    low, high = np.split(constant - spread, 4), np.split(constant + spread, 4)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    drive = sigmoid(high[0]) * np.tanh(np.maximum(np.abs(low[2]), np.abs(high[2])))
    return drive / (1 - sigmoid(high[1]))


def test_gated_networks_report_points_inside_the_states_the_cell_can_reach(reference_analyses):
    """GRU h and LSTM h lie in (-1, 1), LSTM c within the cell's bound, and every point inside
    the box the search covered."""
    checked = 0
    for ref, population, analysis in reference_analyses:
        if ref.architecture == "vanilla":
            continue
        for condition in analysis.conditions:
            states = condition.points.states
            assert (np.abs(states[:, : ref.units]) < 1).all(), (ref.name, condition.label)
            if ref.architecture == "lstm":
                bound = cell_bound(ref, condition.inputs)
                assert (np.abs(states[:, ref.units :]) <= bound).all(), ref.name
            box = fixed_point_box(
                population.select([0]).double(), torch.from_numpy(condition.inputs)
            )
            assert box.contains(torch.from_numpy(states)[None], slack=1e-9).all(), ref.name
            checked += len(states)
    assert checked >= 20


def test_each_condition_keeps_its_coverage_record(reference_analyses):
    """Starts by kind, what each kind reached, and a saturation curve ending at every point."""
    for ref, _, analysis in reference_analyses:
        for condition in analysis.conditions:
            record = condition.coverage.to_dict()
            assert set(record["starts"]) == set(START_KINDS)
            assert record["starts"]["trajectory"] == 64 and record["starts"]["free_run"] >= 256
            curve = np.array(record["saturation"])
            assert curve[-1, 0] == sum(record["starts"].values())
            assert (np.diff(curve[:, 0]) > 0).all() and (np.diff(curve[:, 1]) >= 0).all()
            assert curve[-1, 1] == len(condition.points), (ref.name, condition.label)
            assert curve[-1, 2] == int(condition.points.fixed.sum())
            assert max(record["reached"].values(), default=0) <= len(condition.points)


def small_population(architecture: str, units: int, count: int, scale: float, seed: int):
    """Random networks of a few units (one input, zero during the search): weights uniform in
    +-scale, biases in +-scale / 2, so that many have several fixed points."""
    gen = torch.Generator().manual_seed(seed)
    rows = GATES[architecture] * units

    def uniform(*shape, width=scale):
        return width * (2 * torch.rand(count, *shape, generator=gen, dtype=torch.float64) - 1)

    return RNNPopulation(
        architecture,
        {
            "weight_ih": uniform(rows, 1),
            "weight_hh": uniform(rows, units),
            "bias_ih": uniform(rows, width=scale / 2),
            "bias_hh": torch.zeros(count, rows, dtype=torch.float64),
            "fc_weight": uniform(1, units),
            "fc_bias": uniform(1),
        },
    )


def roots_of(function, low: float, high: float, grid: int = 40001) -> np.ndarray:
    """Every sign change of `function` on a dense grid of [low, high], polished by Brent."""
    xs = np.linspace(low, high, grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        ys = function(xs)
    change = np.isfinite(ys[:-1]) & np.isfinite(ys[1:]) & (np.sign(ys[:-1]) * np.sign(ys[1:]) < 0)

    def scalar(x: float) -> float:
        return float(function(np.array([x]))[0])

    return np.array([brentq(scalar, xs[i], xs[i + 1], xtol=1e-15) for i in np.nonzero(change)[0]])


def vanilla_two_unit_roots(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All h = tanh(W h + b) in two units, through the first unit's pre-activation a: h1 =
    tanh(a), h2 = (a - w11 h1 - b1) / w12, and the second unit's equation h2 = tanh(w21 h1 +
    w22 h2 + b2) must hold (written without artanh, it stays finite where h2 saturates)."""

    def second(a):
        return (a - w[0, 0] * np.tanh(a) - b[0]) / w[0, 1]

    def residual(a):
        return second(a) - np.tanh(w[1, 0] * np.tanh(a) + w[1, 1] * second(a) + b[1])

    reach = abs(b[0]) + np.abs(w[0]).sum()
    a = roots_of(residual, -reach, reach)
    return np.stack([np.tanh(a), second(a)], -1).reshape(-1, 2)


def lstm_one_unit_roots(w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All fixed points [h, c] of a one-unit LSTM: the gates depend on h alone, so c = i g /
    (1 - f) and h = o tanh(c) is one equation in h in (-1, 1)."""

    def gates(h):
        i, f, g, o = w[:, None] * h + b[:, None]
        return 1 / (1 + np.exp(-i)), 1 / (1 + np.exp(-f)), np.tanh(g), 1 / (1 + np.exp(-o))

    def cell(h):
        i, _, g, _ = gates(h)
        return i * g * (1 + np.exp(w[1] * h + b[1]))

    def residual(h):
        return gates(h)[3] * np.tanh(cell(h)) - h

    h = roots_of(residual, -1 + 1e-12, 1 - 1e-12)
    return np.stack([h, cell(h)], -1).reshape(-1, 2)


@pytest.mark.parametrize(
    ("architecture", "units", "scale", "exhaustive", "multistable"),
    [("vanilla", 2, 3.0, "vanilla_two_unit", 0.2), ("lstm", 1, 8.0, "lstm_one_unit", 0.08)],
)
def test_low_dimensional_search_finds_every_root_an_exhaustive_scan_finds(
    architecture, units, scale, exhaustive, multistable
):
    """Two-dimensional states (a two-unit tanh RNN, a one-unit LSTM's [h, c]): the covering
    search, from a few random starts plus its own, finds exactly the roots a dense 1-D scan
    finds (the equations reduce to one unknown), in at least 99% of 200 random networks, of
    which a share has several fixed points."""
    count = 200
    population = small_population(architecture, units, count, scale, seed=3)
    gen = torch.Generator().manual_seed(5)
    starts = 2 * torch.rand(count, 8, population.state_size, generator=gen, dtype=torch.float64) - 1
    coverage = CoverageConfig(box=16, free_runs=32, free_steps=100, continuation=16)
    found = covering_search(
        population,
        torch.zeros(count, 1, dtype=torch.float64),
        starts,
        torch.arange(count),
        FixedPointConfig(),
        coverage,
    )
    params = population.stacked_parameters()
    matched, several = 0, 0
    for k, (points, record) in enumerate(found):
        w, b = params["weight_hh"][k].numpy(), params["bias_ih"][k].numpy()
        truth = (
            vanilla_two_unit_roots(w, b)
            if exhaustive == "vanilla_two_unit"
            else lstm_one_unit_roots(w[:, 0], b)
        )
        mine = points.states[points.fixed]
        several += len(truth) > 1
        if len(mine) == len(truth):
            gap = np.abs(truth[:, None] - mine[None]).max(-1).min(1) if len(truth) else [0]
            matched += bool(np.max(gap) < 1e-8)
        assert record.saturation[-1][2] == len(mine)
    assert matched >= 0.99 * count, matched
    assert several >= multistable * count, several
