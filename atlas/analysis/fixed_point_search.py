"""The batched search behind fixed and slow points: minimise q, polish, remove duplicates.

Every function works on states (K, N, S): K systems (networks, or network x input condition)
with N points each. A residual maps (K, N, S) to (K, N, S) and is zero exactly at a fixed point
(F(h) - h for a map, f(x) for a flow); q = 0.5 * ||residual||^2 per point. Summing q over all
points couples nothing (Adam is elementwise and each point's q depends on its own state), so one
optimisation of the whole population is K * N independent optimisations done at once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

StateMap = Callable[[torch.Tensor], torch.Tensor]

BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
"""torch.optim.Adam's defaults."""


@dataclass(frozen=True)
class FixedPointConfig:
    """Budgets and tolerances of the search (q = 0.5 * ||F(h) - h||^2 per point).

    Adam (learning rate decaying geometrically to `final_learning_rate`) brings the starting
    states near fixed and slow points; Newton polishing in float64 (damped where Newton fails)
    then takes true fixed points to round-off (q ~ 1e-30), hence the tight `fixed_tol`. A slow
    point is a point with q below `slow_tol` where q is stationary: the residual r is nearly
    orthogonal to the range of the residual's Jacobian A, ||A^T r|| < `stationary_tol` * ||A||
    * ||r||. Points closer than `dedupe_tol` are one point; before polishing, points closer
    than `start_merge_tol` (default: `dedupe_tol`) are already one: the ends of free runs crowd
    around the attractors they approach, and polishing each of them would repeat one Newton
    iteration hundreds of times. Starting states whose q (after Adam) is above `start_q_limit`
    (default: none) are not polished at all: their search reports no point.
    """

    adam_steps: int = 200
    learning_rate: float = 5e-2
    final_learning_rate: float = 1e-3
    polish_steps: int = 30
    fixed_tol: float = 1e-20
    slow_tol: float = 1e-6
    stationary_tol: float = 1e-3
    dedupe_tol: float = 1e-4
    start_merge_tol: float | None = None
    start_q_limit: float | None = None

    def __post_init__(self) -> None:
        if self.adam_steps < 0 or self.polish_steps < 0:
            raise ValueError("adam_steps and polish_steps must be non-negative")
        if not 0 < self.final_learning_rate <= self.learning_rate:
            raise ValueError("need 0 < final_learning_rate <= learning_rate")
        if not 0 < self.fixed_tol <= self.slow_tol:
            raise ValueError("need 0 < fixed_tol <= slow_tol")
        if self.stationary_tol <= 0 or self.dedupe_tol <= 0:
            raise ValueError("stationary_tol and dedupe_tol must be positive")
        if self.start_merge_tol is not None and self.start_merge_tol < self.dedupe_tol:
            raise ValueError("start_merge_tol must be at least dedupe_tol")
        if self.start_q_limit is not None and self.start_q_limit <= 0:
            raise ValueError("start_q_limit must be positive")


def speed(residual: StateMap, states: torch.Tensor) -> torch.Tensor:
    """q per point, (K, N)."""
    return 0.5 * residual(states).pow(2).sum(-1)


CACHE_ELEMENTS = 2**18
"""State entries optimised together by Adam: the points are independent, so they go through all
the steps in chunks of about this size, whose working tensors stay in a core's cache."""


def minimise_speed(
    residual: StateMap,
    states: torch.Tensor,
    config: FixedPointConfig,
    gradient: StateMap | None = None,
) -> torch.Tensor:
    """Adam on q for every point at once, learning rate decaying geometrically; new states.
    `gradient`, where given, computes q's gradient A^T r (otherwise autograd does)."""
    count, points, size = states.shape
    sections = max(1, min(points, -(-count * points * size // CACHE_ELEMENTS)))
    chunks = states.detach().tensor_split(sections, dim=1)
    return torch.cat([_adam(residual, chunk.clone(), config, gradient) for chunk in chunks], dim=1)


def _adam(
    residual: StateMap,
    x: torch.Tensor,
    config: FixedPointConfig,
    speed_gradient: StateMap | None = None,
) -> torch.Tensor:
    """torch.optim.Adam's update (betas 0.9 and 0.999, eps 1e-8) with the learning rate decaying
    geometrically, written out in place on x: the same iterates without the optimiser's and
    scheduler's per-step bookkeeping. The gradient of q, A^T r, is `speed_gradient` or one
    vector-Jacobian product of the residual with itself."""
    first, second = torch.zeros_like(x), torch.zeros_like(x)
    decay = (config.final_learning_rate / config.learning_rate) ** (1 / max(config.adam_steps, 1))
    for step in range(1, config.adam_steps + 1):
        if speed_gradient is not None:
            gradient = speed_gradient(x)
        else:
            with torch.enable_grad():
                x.requires_grad_(True)
                r = residual(x)
                (gradient,) = torch.autograd.grad(r, x, r.detach())
            x = x.detach()
        first.lerp_(gradient, 1 - BETAS[0])
        second.mul_(BETAS[1]).addcmul_(gradient, gradient, value=1 - BETAS[1])
        rate = config.learning_rate * decay ** (step - 1) / (1 - BETAS[0] ** step)
        denominator = second.sqrt().div_(math.sqrt(1 - BETAS[1] ** step)).add_(ADAM_EPS)
        x.addcdiv_(first, denominator, value=-rate)
    return x


class Polishable(Protocol):
    """What polishing needs of K systems: residual and its Jacobian on (K, N, S) states, and
    the same systems picked by index (rows may repeat a system)."""

    def residual(self, states: torch.Tensor) -> torch.Tensor: ...

    def residual_jacobian(self, states: torch.Tensor) -> torch.Tensor: ...

    def select(self, rows: torch.Tensor) -> Polishable: ...


def pack_rows(mask: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The True entries of mask (K, N) packed into rows of `width` slots, a row never mixing
    systems: each row's system (R,), the flat index (into K * N) of each slot (R, width) and
    whether a slot holds a point (padding repeats the row's first point). Unlike padding every
    system to the busiest one, this wastes at most one partial row per system."""
    count, per_system = mask.shape
    system_of, position = torch.nonzero(mask, as_tuple=True)
    counts = mask.sum(1)
    rows_per = (counts + width - 1) // width
    first_row = torch.cumsum(rows_per, 0) - rows_per
    rank = torch.arange(len(system_of)) - (torch.cumsum(counts, 0) - counts)[system_of]
    slots = torch.full((int(rows_per.sum()), width), -1, dtype=torch.long)
    slots[first_row[system_of] + rank // width, rank % width] = system_of * per_system + position
    valid = slots >= 0
    slots = torch.where(valid, slots, slots[:, :1])
    return torch.repeat_interleave(torch.arange(count), rows_per), slots, valid


BLOCK = 256
"""Points per batched factorisation: batches of small matrices much larger than this run slower
per matrix on a CPU (they fall out of cache)."""

NEWTON_FRACTIONS = (1.0, 0.5, 0.25, 0.1)
DAMPED_FRACTIONS = (1.0, 0.5, 0.1)
"""Fractions of a step tried at once, each costing one residual, far less than the step's
factorisation: where the whole step overshoots, a fraction of it still lowers q."""

ROUGH_DTYPE = {torch.float64: torch.float32}
"""The dtype of the linear solves for points whose q is still above `give_up_above`, far from
any fixed or slow point: there a step only needs to lower q, which its trials (computed in the
states' dtype) check, and single precision factorises about twice as fast. The last steps to a
fixed or slow point solve in the states' dtype."""

FIRST_DAMPING = 1.0
"""Levenberg-Marquardt's mu when a point leaves Newton: there the full step already failed."""


def _newton_steps(
    system: Polishable,
    states: torch.Tensor,
    residual: torch.Tensor,
    mu: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Fractions of the Newton step dx = -A^-1 r for states (R, W, S): (R, W, F, S), solved in
    `dtype`. One LU factorisation per point, of A^T handed over as the column-major matrix
    LAPACK factorises (which saves a copy)."""
    a = system.residual_jacobian(states).to(dtype)
    dx, _ = torch.linalg.solve_ex(a.mT, residual.to(dtype).unsqueeze(-2), left=False)
    return -torch.tensor(NEWTON_FRACTIONS, dtype=states.dtype)[:, None] * dx.to(states.dtype)


def _damped_steps(
    system: Polishable,
    states: torch.Tensor,
    residual: torch.Tensor,
    mu: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Fractions of the Levenberg-Marquardt step dx = -(A^T A + mu I)^-1 A^T r for states
    (R, W, S): (R, W, F, S), solved in `dtype`."""
    a = system.residual_jacobian(states).to(dtype)
    normal = a.mT @ a
    normal.diagonal(dim1=-2, dim2=-1).add_(mu[..., None].to(dtype))
    factor, _ = torch.linalg.cholesky_ex(normal)
    dx = torch.cholesky_solve(a.mT @ residual.to(dtype).unsqueeze(-1), factor).mT
    return -torch.tensor(DAMPED_FRACTIONS, dtype=states.dtype)[:, None] * dx.to(states.dtype)


@dataclass
class _Trial:
    """The best trial of each point stepped: flat index (M,), which candidate step won, the new
    state, residual and q, and the length of the step taken."""

    flat: torch.Tensor
    choice: torch.Tensor
    states: torch.Tensor
    residual: torch.Tensor
    q: torch.Tensor
    length: torch.Tensor


def _best_trial(
    system: Polishable,
    states: torch.Tensor,
    residual: torch.Tensor,
    mu: torch.Tensor,
    mask: torch.Tensor,
    solver: Callable[..., torch.Tensor],
    dtype: torch.dtype,
) -> _Trial:
    """One step of `solver` for the points in mask (K, N) of states (K, N, S), its linear
    systems solved in `dtype`: of its candidate steps, the one giving the lowest q (computed in
    the states' dtype). The points are packed into rows across systems and factorised BLOCK
    points at a time."""
    flat_x = states.view(-1, states.shape[-1])
    total = int(mask.sum())
    rows, slots, valid = pack_rows(mask, -(-total // (4 * mask.shape[0])))
    x = flat_x[slots]
    dx = torch.cat(
        [
            solver(system.select(rows[b]), x[b], residual[slots[b]], mu[slots[b]], dtype)
            for b in torch.split(torch.arange(len(rows)), max(1, BLOCK // slots.shape[1]))
        ]
    )
    count, width, candidates, size = dx.shape
    trial = x.unsqueeze(2) + dx
    r = system.select(rows).residual(trial.view(count, width * candidates, size)).view_as(trial)
    q = 0.5 * r.pow(2).sum(-1)
    best = torch.where(q.isnan(), torch.inf, q).argmin(-1)[valid]
    pick = torch.arange(len(best)), best
    new = trial[valid][pick]
    length = (new - x[valid]).norm(dim=-1)
    return _Trial(slots[valid], best, new, r[valid][pick], q[valid][pick], length)


def polish(
    system: Polishable,
    states: torch.Tensor,
    include: torch.Tensor,
    steps: int,
    give_up_above: float,
    dedupe_tol: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Newton's method on the residual, Levenberg-Marquardt where it fails, for the included
    points (K, N) of states (K, N, S), in the states' dtype: the new states (the other points
    unchanged), which included points remain, those found within `dedupe_tol` of a point
    with lower q along the way being dropped (left behind, they could pass for points of
    their own once the one they duplicate has moved on), and for every point the index of
    the remaining point that stands for it (-1 for points not included), see
    `duplicate_owners`.

    Newton's step solves A dx = -r, A the residual's Jacobian (J - I for a map), with one LU
    factorisation: quadratically convergent near a true fixed point and, whatever A, a descent
    direction of q, so the best of the fractions of it tried is kept where it lowers q. A point
    where none does, or that crawls (q down by under 10%) with q below `give_up_above`, moves on
    to damped steps, (A^T A + mu I) dx = -A^T r, which settle at a non-zero local minimum of q
    (a slow point) where Newton's steps would not: the best of the fractions of it tried is
    kept where it lowers q, and mu shrinks when the whole step is kept, grows when none is.
    A point leaves the iteration once its step is lost in round-off, its damping is exhausted,
    or it crawls while q is still above `give_up_above`: only the points still on their way to
    a fixed or slow point cost work, packed into rows across systems. While a point's q is
    above `give_up_above` its linear systems are solved in single precision (`ROUGH_DTYPE`).
    """
    x = states.detach().clone()
    flat_x = x.view(-1, x.shape[-1])
    r = system.residual(x).reshape(flat_x.shape)
    q = 0.5 * r.pow(2).sum(-1)
    mu = torch.full_like(q, FIRST_DAMPING)
    newton = torch.ones_like(q, dtype=torch.bool)
    kept = include.clone()
    owner = torch.where(include, torch.arange(include.shape[1]), -1)
    moving = kept.flatten() & (q > 0)
    eps = torch.finfo(x.dtype).eps
    for step in range(steps):
        if step in (3, 6, 10) and dedupe_tol > 0:
            now = duplicate_owners(x, q.view(kept.shape), kept, dedupe_tol)
            owner, kept = follow(owner, now), now == torch.arange(kept.shape[1])
            moving &= kept.flatten()
        if not (moving & (mu < 1e6)).any():
            break
        for by_newton, rough in itertools.product((True, False), (True, False)):
            if rough:
                phase = moving & (mu < 1e6) & (newton if by_newton else ~newton)
                far = phase & (q > give_up_above)
            mask = far if rough else phase & ~far
            if not mask.any():
                continue
            solver = _newton_steps if by_newton else _damped_steps
            dtype = ROUGH_DTYPE.get(x.dtype, x.dtype) if rough else x.dtype
            trial = _best_trial(system, x, r, mu, mask.view(x.shape[:2]), solver, dtype)
            flat, q_old = trial.flat, q[trial.flat]
            accept = trial.q < q_old
            crawling = accept & (trial.q > 0.9 * q_old)
            if by_newton:
                newton[flat] = accept & ~(crawling & (trial.q <= give_up_above))
            else:
                change = torch.where(trial.choice == 0, 0.1, 1.0).where(accept, 10.0)
                mu[flat] = (mu[flat] * change).clamp(min=1e-9)
            tiny_step = trial.length <= 10 * eps * (1 + trial.states.norm(dim=-1))
            moving[flat] = ~((crawling & (trial.q > give_up_above)) | tiny_step) & (trial.q > 0)
            moved = flat[accept]
            flat_x[moved], r[moved], q[moved] = (
                trial.states[accept],
                trial.residual[accept],
                trial.q[accept],
            )
    return x, kept, owner


def duplicate_owners(
    states: torch.Tensor, order_key: torch.Tensor, keep: torch.Tensor, tol: float
) -> torch.Tensor:
    """Per point (K, N), the index of the point that stands for it, -1 where not `keep`: points
    closer than `tol` form chains, each point pointing at the closest-ranked (smallest
    `order_key`, q) kept point near it, and a chain's first point stands for all of it."""
    count, points = keep.shape
    order = torch.argsort(torch.where(keep, order_key, torch.inf), dim=1)
    ranked = torch.gather(states, 1, order[..., None].expand_as(states))
    ranked_keep = torch.gather(keep, 1, order)
    earlier = torch.ones(points, points, dtype=torch.bool).triu(diagonal=1)
    shadow = (torch.cdist(ranked, ranked) < tol) & earlier & ranked_keep[:, :, None]
    rank = torch.arange(points).expand(count, -1)
    parent = torch.where(shadow.any(1), shadow.to(torch.int8).argmax(1), rank)
    while True:
        root = torch.gather(parent, 1, parent)
        if torch.equal(root, parent):
            break
        parent = root
    owner_ranked = torch.where(ranked_keep, torch.gather(order, 1, parent), -1)
    return torch.empty_like(owner_ranked).scatter_(1, order, owner_ranked)


def first_of_duplicates(
    states: torch.Tensor, order_key: torch.Tensor, keep: torch.Tensor, tol: float
) -> torch.Tensor:
    """Mask (K, N) of the points to keep: among `keep` points closer than `tol`, the one with the
    smallest `order_key` (q) stands for the group."""
    owner = duplicate_owners(states, order_key, keep, tol)
    return owner == torch.arange(keep.shape[1])


def follow(owner: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """Owners composed: where each point's owner (K, N) ended up under `then` (K, N), -1
    staying -1."""
    moved = torch.gather(then, 1, owner.clamp(min=0))
    return torch.where(owner >= 0, moved, -1)


def front_indices(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per system, the indices of its kept points first: index (K, P) and validity (K, P), P
    being the largest kept count (at least 1); padding repeats an index and is marked invalid."""
    width = max(int(keep.sum(1).max()), 1)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
    return order, torch.gather(keep, 1, order)


def gather_points(states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """states (K, N, S) at index (K, P): (K, P, S)."""
    return torch.gather(states, 1, index[..., None].expand(-1, -1, states.shape[-1]))
