"""Fixed and slow points of whole populations: discrete RNNs under a constant input, and the
continuous two-neuron model.

One search covers every network and every starting state at once (see `fixed_point_search`):
Adam on q in the population's own dtype, then damped Newton polishing, duplicate removal and the
description of each point (Jacobian, eigenvalues, stability) in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from atlas.analysis.fixed_point_search import (
    FixedPointConfig,
    StateMap,
    duplicate_owners,
    follow,
    front_indices,
    gather_points,
    minimise_speed,
    polish,
    speed,
)
from atlas.analysis.jacobian import _JACOBIANS as STEP_JACOBIANS
from atlas.analysis.jacobian import two_neuron_jacobian
from atlas.networks import RNNPopulation
from atlas.networks.cells import STEPS, float32_tanh
from atlas.networks.two_neuron import vector_field

KINDS = ("fixed", "slow")


@dataclass
class FixedPointSet:
    """The distinct fixed and slow points of one network under one condition, P of them.

    states (P, S), q (P,), outputs (P, O), jacobians (P, S, S) of the step map (discrete) or of
    the vector field (continuous), eigenvalues (P, S) complex, stable (P,), kinds (P,) in KINDS.
    """

    states: np.ndarray
    q: np.ndarray
    outputs: np.ndarray
    jacobians: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    kinds: np.ndarray
    continuous: bool = False
    destinations: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.q)

    @property
    def fixed(self) -> np.ndarray:
        return self.kinds == "fixed"

    def to_dict(
        self, include_states: bool = True, include_jacobians: bool = False
    ) -> dict[str, Any]:
        """JSON-ready: one entry per point with a summary of its state (norm, min, max) and its
        eigenvalues sorted by modulus, largest first (as [real, imag] pairs and moduli)."""
        points = []
        for p in range(len(self)):
            state = self.states[p]
            eig = self.eigenvalues[p][np.argsort(-np.abs(self.eigenvalues[p]))]
            entry = {
                "kind": str(self.kinds[p]),
                "q": float(self.q[p]),
                "stable": bool(self.stable[p]),
                "output": self.outputs[p].tolist(),
                "state_norm": float(np.linalg.norm(state)),
                "state_min": float(state.min()),
                "state_max": float(state.max()),
                "eigenvalue_moduli": np.abs(eig).tolist(),
                "eigenvalues": [[float(e.real), float(e.imag)] for e in eig],
            }
            if include_states:
                entry["state"] = state.tolist()
            if include_jacobians:
                entry["jacobian"] = self.jacobians[p].tolist()
            points.append(entry)
        return {"continuous": self.continuous, "count": len(self), "points": points}


@dataclass(frozen=True)
class DynamicalSystem:
    """K systems on states (K, N, S): a map F (discrete) or a flow f (continuous), its Jacobian
    (K, N, S, S), the readout, and `select(rows)`, the systems at those indices. The residual,
    zero at a fixed point, is F(h) - h or f(x); `speed_gradient`, where known in closed form,
    is the gradient of q = 0.5 * ||residual||^2 (else Adam differentiates the residual)."""

    dynamics: StateMap
    jacobian: StateMap
    readout: StateMap
    continuous: bool
    select: Callable[[torch.Tensor], DynamicalSystem]
    speed_gradient: StateMap | None = None

    def residual(self, states: torch.Tensor) -> torch.Tensor:
        moved = self.dynamics(states)
        return moved if self.continuous else moved - states

    def residual_jacobian(self, states: torch.Tensor) -> torch.Tensor:
        jacobian = self.jacobian(states)
        if not self.continuous:
            jacobian.diagonal(dim1=-2, dim2=-1).sub_(1)
        return jacobian


def solve_fixed_points(
    system_in: Callable[[torch.dtype], DynamicalSystem],
    initial_states: torch.Tensor,
    config: FixedPointConfig,
) -> list[FixedPointSet]:
    """The fixed and slow points of each of the K systems, from starting states (K, N, S).

    `system_in(dtype)` gives the systems computing in that dtype: the Adam phase runs in the
    starting states' dtype, polishing and everything after it in float64.
    """
    rough_system = system_in(initial_states.dtype)
    rough = minimise_speed(
        rough_system.residual, initial_states, config, rough_system.speed_gradient
    )
    rough_q = speed(rough_system.residual, rough)
    merge_tol = config.start_merge_tol or config.dedupe_tol
    searched = torch.isfinite(rough_q)
    if config.start_q_limit is not None:
        searched &= rough_q <= config.start_q_limit
    owner = duplicate_owners(rough, rough_q, searched, merge_tol)
    everyone = torch.arange(owner.shape[1])

    system = system_in(torch.float64)
    points, kept, polished_owner = polish(
        system,
        rough.double(),
        owner == everyone,
        config.polish_steps,
        config.slow_tol,
        config.dedupe_tol,
    )
    owner = follow(owner, polished_owner)
    residual = system.residual(points)
    q = 0.5 * residual.pow(2).sum(-1)
    unique_owner = duplicate_owners(points, q, kept & (q < config.slow_tol), config.dedupe_tol)
    owner = follow(owner, unique_owner)
    index, valid = front_indices(unique_owner == everyone)
    points = gather_points(points, index)
    residual = system.residual(points)
    q = 0.5 * residual.pow(2).sum(-1)

    jacobians = system.jacobian(points)
    fixed = q < config.fixed_tol
    valid = valid & (fixed | _stationary(system, points, residual, valid & ~fixed, config))
    eigenvalues = _on(valid, torch.linalg.eigvals, jacobians)
    stable = (
        (eigenvalues.real < 0).all(-1) if system.continuous else (eigenvalues.abs() < 1).all(-1)
    )
    outputs = system.readout(points)
    return [
        _point_set(
            {
                "states": points[k],
                "q": q[k],
                "outputs": outputs[k],
                "jacobians": jacobians[k],
                "eigenvalues": eigenvalues[k],
                "stable": stable[k],
                "fixed": fixed[k],
            },
            valid[k],
            system.continuous,
            _destinations(owner[k], index[k], valid[k], q[k]),
        )
        for k in range(points.shape[0])
    ]


def _destinations(
    owner: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, q: torch.Tensor
) -> np.ndarray:
    """Per starting state, the position of its point in the set `_point_set` builds (valid
    points of the compacted ones, sorted by q), -1 where its point was rejected: owner (N,) in
    start indices, index (P,) the start index behind each compacted point."""
    kept = torch.nonzero(valid).squeeze(1)
    kept = kept[torch.argsort(q[kept], stable=True)]
    position = torch.full((len(owner) + 1,), -1, dtype=torch.long)
    position[index[kept]] = torch.arange(len(kept))
    return position[torch.where(owner >= 0, owner, len(owner))].numpy()


POINT_FIELDS = ("states", "q", "outputs", "jacobians", "eigenvalues", "stable", "kinds")


def merge_point_sets(
    sets: Sequence[FixedPointSet], dedupe_tol: float
) -> tuple[FixedPointSet, list[np.ndarray]]:
    """One system's points from several searches as one set, sorted by q: of points closer
    than `dedupe_tol`, the one with the lowest q stands for them. Also, per input set, where
    each of its points went in the merged set; the merged set's destinations are the input
    sets' destinations, in order, mapped there."""
    joined = {name: np.concatenate([getattr(s, name) for s in sets]) for name in POINT_FIELDS}
    count = len(joined["q"])
    states = torch.from_numpy(joined["states"])[None]
    q = torch.from_numpy(joined["q"])[None]
    everything = torch.ones_like(q, dtype=torch.bool)
    owner = duplicate_owners(states, q, everything, dedupe_tol)[0] if count else q[0].long()
    kept = torch.nonzero(owner == torch.arange(count)).squeeze(1)
    kept = kept[torch.argsort(q[0, kept], stable=True)]
    position = torch.full((count,), -1, dtype=torch.long)
    position[kept] = torch.arange(len(kept))
    moved = position[owner].numpy()
    offsets = np.cumsum([0] + [len(s) for s in sets])
    maps = [moved[offsets[i] : offsets[i + 1]] for i in range(len(sets))]
    destinations = [
        np.append(where, -1)[np.where(s.destinations >= 0, s.destinations, len(where))]
        for s, where in zip(sets, maps, strict=True)
        if s.destinations is not None
    ]
    picked = {name: value[kept.numpy()] for name, value in joined.items()}
    merged = FixedPointSet(
        **picked,
        continuous=sets[0].continuous,
        destinations=np.concatenate(destinations) if destinations else None,
    )
    return merged, maps


def keep_points(points: FixedPointSet, keep: np.ndarray) -> FixedPointSet:
    """The points where keep (P,) holds, destinations remapped (-1 for the dropped ones)."""
    position = np.full(len(points) + 1, -1)
    position[np.nonzero(keep)[0]] = np.arange(int(keep.sum()))
    destinations = points.destinations
    if destinations is not None:
        destinations = position[np.where(destinations >= 0, destinations, len(points))]
    picked = {name: getattr(points, name)[keep] for name in POINT_FIELDS}
    return FixedPointSet(**picked, continuous=points.continuous, destinations=destinations)


def _on(mask: torch.Tensor, function: StateMap, values: torch.Tensor) -> torch.Tensor:
    """function applied to the entries of values (K, P, ...) where mask (K, P) holds, zero
    elsewhere: the padding of `compact` and the rejected points cost no factorisation."""
    picked = function(values[mask])
    out = picked.new_zeros(mask.shape + picked.shape[1:])
    out[mask] = picked
    return out


def _stationary(
    system: DynamicalSystem,
    points: torch.Tensor,
    residual: torch.Tensor,
    candidate: torch.Tensor,
    config: FixedPointConfig,
) -> torch.Tensor:
    """Where q is stationary among the candidates (K, P): ||A^T r|| small against ||A|| ||r||,
    A the residual's Jacobian (see FixedPointConfig)."""
    a = system.residual_jacobian(points)
    gradient = (a.mT @ residual.unsqueeze(-1)).squeeze(-1).norm(dim=-1)
    norm = _on(candidate, lambda m: torch.linalg.matrix_norm(m, ord=2), a)
    return candidate & (gradient <= config.stationary_tol * norm * residual.norm(dim=-1))


def _point_set(
    arrays: dict[str, torch.Tensor],
    valid: torch.Tensor,
    continuous: bool,
    destinations: np.ndarray | None = None,
) -> FixedPointSet:
    """One system's valid points as numpy arrays, sorted by q."""
    index = torch.nonzero(valid).squeeze(1)
    index = index[torch.argsort(arrays["q"][index], stable=True)]
    picked = {name: value[index].detach().cpu().numpy() for name, value in arrays.items()}
    kinds = np.where(picked.pop("fixed"), "fixed", "slow")
    return FixedPointSet(**picked, kinds=kinds, continuous=continuous, destinations=destinations)


def _rnn_system(frozen: RNNPopulation, inputs: torch.Tensor) -> DynamicalSystem:
    """The step of frozen networks under constant inputs (I,) or (K, I); the input projection,
    the same for every state, is computed once."""
    per_network = inputs.expand(frozen.count, -1) if inputs.dim() == 1 else inputs
    xproj = frozen.input_projection(per_network[:, None, None, :])[:, 0, 0]
    tensors = {
        "xproj": xproj,
        "weight_hh": frozen.weight_hh.detach(),
        "bias_hh": frozen.bias_hh.detach(),
        "fc_weight": frozen.fc_weight.detach(),
        "fc_bias": frozen.fc_bias.detach(),
    }
    return _step_system(frozen.architecture, tensors)


def _vanilla_maps(bias: torch.Tensor, weight_hh: torch.Tensor) -> tuple[StateMap, StateMap]:
    """For K vanilla networks, bias (K, 1, H) the recurrent and input biases and the input
    projection in one: the step h -> y = tanh(W h + bias), and the gradient of q = 0.5 *
    ||y - h||^2, W^T ((1 - y^2) r) - r with r = y - h, in closed form (half the time of
    autograd's). tanh is atlas.networks.cells.float32_tanh: the identity 2 sigmoid(2x) - 1 in
    the float32 phases (Adam, free runs), torch.tanh in float64 (polishing and after it)."""
    weight_hh_t = weight_hh.mT

    def step(h: torch.Tensor) -> torch.Tensor:
        pre = torch.baddbmm(bias, h, weight_hh_t)
        return float32_tanh(pre, out=None if pre.requires_grad else pre)

    def speed_gradient(h: torch.Tensor) -> torch.Tensor:
        y = step(h)
        r = y - h
        return torch.baddbmm(r, y.mul_(y).neg_().add_(1).mul_(r), weight_hh, beta=-1)

    return step, speed_gradient


def _step_system(architecture: str, tensors: dict[str, torch.Tensor]) -> DynamicalSystem:
    """The step map of K systems from their input projections xproj (K, G*H), recurrent
    weights and biases, and readouts: `select` indexes these tensors, no network is copied
    (polishing selects the systems of every block of points it factorises)."""
    xproj, weight_hh, bias_hh = tensors["xproj"], tensors["weight_hh"], tensors["bias_hh"]
    step, weight_hh_t = STEPS[architecture], weight_hh.mT
    units = weight_hh.shape[-1]
    derivative = STEP_JACOBIANS[architecture]

    def jacobian(h: torch.Tensor) -> torch.Tensor:
        hproj = torch.baddbmm(bias_hh.unsqueeze(1), h[..., :units], weight_hh_t)
        return derivative(h, xproj.unsqueeze(1), hproj, weight_hh)

    def readout(h: torch.Tensor) -> torch.Tensor:
        flat = h[..., :units].reshape(h.shape[0], -1, units)
        out = torch.baddbmm(tensors["fc_bias"].unsqueeze(1), flat, tensors["fc_weight"].mT)
        return out.reshape(*h.shape[:-1], -1)

    gradient = None
    if architecture == "vanilla":
        dynamics, gradient = _vanilla_maps((bias_hh + xproj).unsqueeze(1), weight_hh)
    else:
        dynamics = lambda h: step(h, xproj.unsqueeze(1), weight_hh_t, bias_hh)  # noqa: E731
    return DynamicalSystem(
        dynamics=dynamics,
        jacobian=jacobian,
        readout=readout,
        continuous=False,
        select=lambda rows: _step_system(
            architecture, {name: value[rows] for name, value in tensors.items()}
        ),
        speed_gradient=gradient,
    )


def population_system(
    population: RNNPopulation, inputs: torch.Tensor
) -> Callable[[torch.dtype], DynamicalSystem]:
    """Per-dtype systems of a population's step under constant inputs (I,) or (K, I)."""
    if inputs.shape[-1] != population.n_inputs:
        raise ValueError(f"inputs have {inputs.shape[-1]} channels, networks {population.n_inputs}")
    if inputs.dim() == 2 and inputs.shape[0] != population.count:
        raise ValueError(f"inputs for {inputs.shape[0]} networks, not {population.count}")

    def system_in(dtype: torch.dtype) -> DynamicalSystem:
        frozen = population.select(range(population.count)).requires_grad_(False).to(dtype)
        return _rnn_system(frozen, inputs.to(dtype))

    return system_in


def find_fixed_points(
    population: RNNPopulation,
    inputs: torch.Tensor,
    initial_states: torch.Tensor,
    config: FixedPointConfig | None = None,
) -> list[FixedPointSet]:
    """Fixed and slow points of every network under a constant input, one set per network.

    inputs: (I,) shared by all networks or (K, I), one per network; initial_states (K, N, S)
    (S: units, or 2 * units for an LSTM's [h, c]).
    """
    expected = (population.count, population.state_size)
    if initial_states.dim() != 3 or (initial_states.shape[0], initial_states.shape[2]) != expected:
        raise ValueError(f"initial_states must be (K, N, S) = ({expected[0]}, N, {expected[1]})")
    system_in = population_system(population, torch.as_tensor(inputs))
    return solve_fixed_points(system_in, initial_states, config or FixedPointConfig())


def _two_neuron_flow(w: torch.Tensor) -> DynamicalSystem:
    return DynamicalSystem(
        dynamics=lambda x: vector_field(x, w),
        jacobian=lambda x: two_neuron_jacobian(w, x),
        readout=lambda x: x,
        continuous=True,
        select=lambda rows: _two_neuron_flow(w[rows]),
    )


def two_neuron_system(w: torch.Tensor) -> Callable[[torch.dtype], DynamicalSystem]:
    """Per-dtype systems of dx/dt = -x + W tanh(x) for W (K, 2, 2); the output is x itself."""
    return lambda dtype: _two_neuron_flow(w.detach().to(dtype))


TWO_NEURON_SEARCH = FixedPointConfig(adam_steps=0)
"""Newton straight from a dense grid: in two dimensions the grid already lies in every basin."""


def two_neuron_grid(w: torch.Tensor, per_axis: int = 12) -> torch.Tensor:
    """Starting states (K, per_axis^2 + 1, 2): a grid over the box that holds every fixed point
    (at one, x = W tanh(x), so |x_i| < sum_j |W_ij|), plus the origin, which is a fixed point of
    every W (and near a pitchfork bifurcation hard to reach from elsewhere)."""
    bound = w.detach().abs().sum(-1)
    unit = torch.linspace(-1.0, 1.0, per_axis, dtype=w.dtype)
    a, b = torch.meshgrid(unit, unit, indexing="ij")
    grid = torch.stack([a.flatten(), b.flatten()], dim=-1)
    grid = torch.cat([grid, torch.zeros(1, 2, dtype=w.dtype)])
    return grid.unsqueeze(0) * bound.unsqueeze(1)


def find_two_neuron_fixed_points(
    w: torch.Tensor,
    initial_states: torch.Tensor | None = None,
    config: FixedPointConfig = TWO_NEURON_SEARCH,
) -> list[FixedPointSet]:
    """Fixed points of dx/dt = -x + W tanh(x) for W (K, 2, 2); stable where all Re(lambda) < 0.

    Starts from a grid over the box that must contain them all unless states are given.
    """
    if w.dim() != 3 or w.shape[1:] != (2, 2):
        raise ValueError(f"W must be (K, 2, 2), got {tuple(w.shape)}")
    w = w.to(torch.float64)
    start = two_neuron_grid(w) if initial_states is None else initial_states.to(torch.float64)
    return solve_fixed_points(two_neuron_system(w), start, config)
