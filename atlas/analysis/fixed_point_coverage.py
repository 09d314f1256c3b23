"""A fixed-point search that covers the state space a network can occupy, with a record of how.

Starting states of four kinds, per system (a network under one constant input):
- trajectory: states the network visits on its validation trials, plus noise (given);
- box: spread uniformly over the box that holds every fixed point (`state_bounds`);
- free_run: the end of a free run of `free_steps` steps from a random state in that box, which
  lies near a stable attractor when the run has reached one (their basins can be small and far
  from the visited states: trained LSTMs have stable points 4-6 away from any visited state);
  ends that are still moving fast (on an oscillation, see UNSETTLED_Q) are not searched;
- continuation: from the points found, the points of the same network under its other inputs,
  and both ends of the leading unstable direction of each unstable point, run freely, which
  follows the unstable manifolds to whatever they connect to.
The first three go through one search (Adam then Newton for trajectory and box starts, Newton
alone for free-run ends, which already lie where the dynamics settle), then continuation from
what they found; the sets are merged. Each starting state's destination gives the coverage
record: starts by kind, the distinct points each kind reached, and the saturation curve, the
number of distinct points as the number of starts (in a fixed random order, continuation last)
doubles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from atlas.analysis.fixed_point_search import FixedPointConfig
from atlas.analysis.fixed_points import (
    FixedPointSet,
    keep_points,
    merge_point_sets,
    population_system,
    solve_fixed_points,
)
from atlas.analysis.state_bounds import StateBox, box_states, fixed_point_box, reachable_box
from atlas.networks import RNNPopulation

START_KINDS = ("trajectory", "box", "free_run", "continuation")


@dataclass(frozen=True)
class CoverageConfig:
    """How many starting states of each kind a system gets (trajectory starts are given), how
    long the free runs last, and how far continuation kicks a state off an unstable point."""

    box: int = 64
    free_runs: int = 256
    free_steps: int = 150
    continuation: int = 128
    kick: float = 1e-2
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.box, self.free_runs, self.free_steps, self.continuation) < 0:
            raise ValueError("start counts and free_steps must be non-negative")
        if self.kick <= 0:
            raise ValueError("kick must be positive")


@dataclass(frozen=True)
class Coverage:
    """How one system's state space was covered: starting states by kind, distinct points
    reached from each kind (and reached from no other), the saturation curve as rows
    (starts, distinct points, distinct true fixed points), the box searched, and how many
    points the search settled on outside the states the network can occupy (rejected: where
    a gate saturates in float64, q rounds to zero there without a fixed point)."""

    starts: dict[str, int]
    reached: dict[str, int]
    reached_only: dict[str, int]
    saturation: list[tuple[int, int, int]]
    box: dict[str, float]
    rejected_outside: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "starts": dict(self.starts),
            "reached": dict(self.reached),
            "reached_only": dict(self.reached_only),
            "saturation": [list(row) for row in self.saturation],
            "box": dict(self.box),
            "rejected_outside": self.rejected_outside,
        }


def _free_run(
    population: RNNPopulation, inputs: torch.Tensor, states: torch.Tensor, steps: int
) -> torch.Tensor:
    """States (K, N, S) after `steps` steps under the systems' constant inputs (K, I)."""
    step = population_system(population, inputs)(states.dtype).dynamics
    with torch.no_grad():
        for _ in range(steps):
            states = step(states)
    return states


def _solve(
    population: RNNPopulation, inputs: torch.Tensor, starts: torch.Tensor, config: FixedPointConfig
) -> list[FixedPointSet]:
    return solve_fixed_points(population_system(population, inputs), starts, config)


FREE_RUN_MERGE = 1e-2
"""Free-run ends closer than this are polished as one (see FixedPointConfig.start_merge_tol):
distinct fixed points this close are rare, and the other kinds of start still resolve them."""


UNSETTLED_Q = 1.0
"""Free-run ends (and kicked runs' ends) with q above this have not settled and are not
searched: a state that still moves by more than sqrt(2 * UNSETTLED_Q) per step lies on an
oscillation, not near a fixed point. Polishing them took a third of the covering search on
benchmarks/fixed_points.py (the delayed networks oscillate under zero input: all 256 ends)
and rarely found what the other starts miss: 3 unstable points of 187 there, none on the
reference networks."""


def _settled(config: FixedPointConfig) -> FixedPointConfig:
    """The search from free-run ends: Newton straight away (they lie where the dynamics settle),
    ends close together polished once, ends that have not settled not at all."""
    merge = max(FREE_RUN_MERGE, config.start_merge_tol or config.dedupe_tol)
    return replace(config, adam_steps=0, start_merge_tol=merge, start_q_limit=UNSETTLED_Q)


def _unstable_kicks(points: FixedPointSet, kick: float) -> list[np.ndarray]:
    """Both ends of a short step along each unstable true fixed point's leading eigenvector
    (its real part, which spans the unstable plane's first direction for a complex pair)."""
    out = []
    for p in np.nonzero(points.fixed & ~points.stable)[0]:
        values, vectors = np.linalg.eig(points.jacobians[p])
        lead = np.real(vectors[:, np.argmax(np.abs(values))])
        lead = lead / max(np.linalg.norm(lead), 1e-300)
        out += [points.states[p] + kick * lead, points.states[p] - kick * lead]
    return out


def _continuation_seeds(
    found: Sequence[FixedPointSet], network_of: torch.Tensor, kick: float, limit: int
) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """Per system, (states to search from directly: the same network's points under its other
    inputs; states to run freely first: kicks off its own unstable points), `limit` at most."""
    seeds = []
    for k, points in enumerate(found):
        siblings = torch.nonzero(network_of == network_of[k]).squeeze(1).tolist()
        others = [s for j in siblings if j != k for s in found[j].states]
        kicks = _unstable_kicks(points, kick)[:limit]
        seeds.append((others[: limit - len(kicks)], kicks))
    return seeds


def _padded(seeds: list[list[np.ndarray]], fill: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeds per system as (K, W, S), W the largest count, padded with `fill` (K, >=W, S);
    and which entries are seeds (K, W)."""
    width = max(len(s) for s in seeds)
    out = fill[:, :width].clone()
    real = torch.zeros(out.shape[:2], dtype=torch.bool)
    for k, states in enumerate(seeds):
        if states:
            out[k, : len(states)] = torch.from_numpy(np.stack(states)).to(out.dtype)
            real[k, : len(states)] = True
    return out, real


def _saturation(
    destinations: np.ndarray, kinds: np.ndarray, fixed: np.ndarray, order: np.ndarray
) -> list[tuple[int, int, int]]:
    """Distinct points (all, fixed) reached by the first n starts in `order`, n doubling."""
    total = len(order)
    sizes = [2**i for i in range(max(total, 1).bit_length()) if 2**i < total] + [total]
    rows = []
    for n in sizes:
        reached = np.unique(destinations[order[:n]])
        reached = reached[reached >= 0]
        rows.append((int(n), len(reached), int(fixed[reached].sum())))
    return rows


BOX_SLACK = 1e-9
"""How far outside its box (computed in float64) a polished point may lie: round-off."""


def _inside(points: FixedPointSet, fixed_box: StateBox, any_box: StateBox, k: int) -> np.ndarray:
    """Which points (P,) lie where they can: true fixed points in system k's fixed-point box,
    slow points in the box every state enters after one step."""
    states = torch.from_numpy(points.states)[None]
    in_fixed = fixed_box.contains(states, BOX_SLACK, rows=[k])[0].numpy()
    in_any = any_box.contains(states, BOX_SLACK, rows=[k])[0].numpy()
    return np.where(points.fixed, in_fixed, in_any)


def _coverage(
    points: FixedPointSet,
    kinds: np.ndarray,
    order: np.ndarray,
    box: dict[str, float],
    rejected: int,
) -> Coverage:
    destinations = points.destinations
    reached_by = {
        kind: set(destinations[(kinds == kind) & (destinations >= 0)].tolist())
        for kind in START_KINDS
    }
    only = {
        kind: len(found - set().union(*(reached_by[o] for o in START_KINDS if o != kind)))
        for kind, found in reached_by.items()
    }
    return Coverage(
        starts={kind: int((kinds == kind).sum()) for kind in START_KINDS},
        reached={kind: len(found) for kind, found in reached_by.items()},
        reached_only=only,
        saturation=_saturation(destinations, kinds, points.fixed, order),
        box=box,
        rejected_outside=rejected,
    )


def _box_summary(box: StateBox, k: int, units: int) -> dict[str, float]:
    """The box of system k in a few numbers: the hidden state's widest extent and median
    width, and, for an LSTM, the largest cell bound."""
    lower, upper = box.lower[k].double(), box.upper[k].double()
    summary = {
        "hidden_lower": float(lower[:units].min()),
        "hidden_upper": float(upper[:units].max()),
        "hidden_median_width": float((upper[:units] - lower[:units]).median()),
    }
    if len(lower) > units:
        summary["cell_bound"] = float(torch.maximum(-lower[units:], upper[units:]).max())
    return summary


def covering_search(
    population: RNNPopulation,
    inputs: torch.Tensor,
    trajectory_starts: torch.Tensor,
    network_of: torch.Tensor,
    config: FixedPointConfig,
    coverage: CoverageConfig,
) -> list[tuple[FixedPointSet, Coverage]]:
    """Fixed and slow points of K systems (population row k under inputs (K, I)), from
    trajectory starts (K, n, S) and starts spread over each system's reachable box; rows of
    `network_of` (K,) that are equal are one network under different inputs (continuation
    passes points between them). Returns each system's points and coverage record."""
    dtype = trajectory_starts.dtype
    exact = population.select(range(population.count)).double().requires_grad_(False)
    box = fixed_point_box(exact, inputs.double())
    region = reachable_box(exact, inputs.double())
    generator = torch.Generator().manual_seed(coverage.seed)
    spread = box_states(exact, inputs.double(), box, coverage.box, generator).to(dtype)
    random = box_states(exact, inputs.double(), box, coverage.free_runs, generator).to(dtype)
    ends = _free_run(population, inputs, random, coverage.free_steps)

    first = _solve(population, inputs, torch.cat([trajectory_starts, spread], 1), config)
    settled = _solve(population, inputs, ends, _settled(config))
    kinds = np.repeat(
        START_KINDS[:3], [trajectory_starts.shape[1], coverage.box, coverage.free_runs]
    )
    found = [
        merge_point_sets([a, b], config.dedupe_tol)[0] for a, b in zip(first, settled, strict=True)
    ]
    rejected = [0] * population.count
    for k, points in enumerate(found):
        inside = _inside(points, box, region, k)
        found[k], rejected[k] = keep_points(points, inside), int((~inside).sum())

    count = population.count
    order = [np.random.default_rng(coverage.seed).permutation(len(kinds))] * count
    kinds = [kinds] * count
    seeds = _continuation_seeds(found, network_of, coverage.kick, coverage.continuation)
    if coverage.continuation and any(a or b for a, b in seeds):
        fill = box_states(exact, inputs.double(), box, coverage.continuation, generator)
        direct, direct_real = _padded([a for a, _ in seeds], fill.to(dtype))
        kicked, kicked_real = _padded([b for _, b in seeds], fill.flip(1).to(dtype))
        kicked = _free_run(population, inputs, kicked, coverage.free_steps)
        searches = [
            (_solve(population, inputs, starts, step_config), real, padding)
            for starts, real, step_config, padding in (
                (direct, direct_real, config, "box"),
                (kicked, kicked_real, _settled(config), "free_run"),
            )
            if starts.shape[1]
        ]
        for continued, real, padding in searches:
            for k in range(count):
                inside = _inside(continued[k], box, region, k)
                rejected[k] += int((~inside).sum())
                extra = keep_points(continued[k], inside)
                found[k] = merge_point_sets([found[k], extra], config.dedupe_tol)[0]
                labels = np.where(real[k].numpy(), "continuation", padding)
                order[k] = np.concatenate([order[k], len(kinds[k]) + np.arange(len(labels))])
                kinds[k] = np.concatenate([kinds[k], labels])
    units = population.units
    return [
        (
            found[k],
            _coverage(found[k], kinds[k], order[k], _box_summary(box, k, units), rejected[k]),
        )
        for k in range(count)
    ]
