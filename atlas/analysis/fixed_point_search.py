"""The batched search behind fixed and slow points: minimise q, polish, remove duplicates.

Every function works on states (K, N, S): K systems (networks, or network x input condition)
with N points each. A residual maps (K, N, S) to (K, N, S) and is zero exactly at a fixed point
(F(h) - h for a map, f(x) for a flow); q = 0.5 * ||residual||^2 per point. Summing q over all
points couples nothing (Adam is elementwise and each point's q depends on its own state), so one
optimisation of the whole population is K * N independent optimisations done at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

StateMap = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FixedPointConfig:
    """Budgets and tolerances of the search (q = 0.5 * ||F(h) - h||^2 per point).

    Adam (learning rate decaying geometrically to `final_learning_rate`) brings the starting
    states near fixed and slow points; damped Newton polishing in float64 then takes true fixed
    points to round-off (q ~ 1e-30), hence the tight `fixed_tol`. A slow point is a point with
    q below `slow_tol` where q is stationary: the residual r is nearly orthogonal to the range
    of the residual's Jacobian A, ||A^T r|| < `stationary_tol` * ||A|| * ||r||. Points closer
    than `dedupe_tol` are one point.
    """

    adam_steps: int = 200
    learning_rate: float = 5e-2
    final_learning_rate: float = 1e-3
    polish_steps: int = 30
    fixed_tol: float = 1e-20
    slow_tol: float = 1e-6
    stationary_tol: float = 1e-3
    dedupe_tol: float = 1e-4

    def __post_init__(self) -> None:
        if self.adam_steps < 0 or self.polish_steps < 0:
            raise ValueError("adam_steps and polish_steps must be non-negative")
        if not 0 < self.final_learning_rate <= self.learning_rate:
            raise ValueError("need 0 < final_learning_rate <= learning_rate")
        if not 0 < self.fixed_tol <= self.slow_tol:
            raise ValueError("need 0 < fixed_tol <= slow_tol")
        if self.stationary_tol <= 0 or self.dedupe_tol <= 0:
            raise ValueError("stationary_tol and dedupe_tol must be positive")


def speed(residual: StateMap, states: torch.Tensor) -> torch.Tensor:
    """q per point, (K, N)."""
    return 0.5 * residual(states).pow(2).sum(-1)


def minimise_speed(
    residual: StateMap, states: torch.Tensor, config: FixedPointConfig
) -> torch.Tensor:
    """Adam on q for every point at once, learning rate decaying geometrically; new states."""
    x = states.detach().clone().requires_grad_(True)
    if config.adam_steps == 0:
        return x.detach()
    optimiser = torch.optim.Adam([x], lr=config.learning_rate)
    decay = (config.final_learning_rate / config.learning_rate) ** (1 / config.adam_steps)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimiser, decay)
    for _ in range(config.adam_steps):
        with torch.enable_grad():
            (x.grad,) = torch.autograd.grad(speed(residual, x).sum(), x)
        optimiser.step()
        schedule.step()
    return x.detach()


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


def _damped_step(
    system: Polishable, states: torch.Tensor, residual: torch.Tensor, mu: torch.Tensor
) -> torch.Tensor:
    """The Levenberg-Marquardt step dx = -(A^T A + mu I)^-1 A^T r for states (R, W, S)."""
    a = system.residual_jacobian(states)
    eye = torch.eye(states.shape[-1], dtype=states.dtype)
    factor, _ = torch.linalg.cholesky_ex(a.mT @ a + mu[..., None, None] * eye)
    return -torch.cholesky_solve(a.mT @ residual.unsqueeze(-1), factor).squeeze(-1)


def polish(
    system: Polishable,
    states: torch.Tensor,
    include: torch.Tensor,
    steps: int,
    give_up_above: float,
    dedupe_tol: float = 0.0,
) -> torch.Tensor:
    """Damped Newton (Levenberg-Marquardt) on the residual for the included points (K, N) of
    states (K, N, S), in the states' dtype; the other points are returned unchanged.

    Each step solves (A^T A + mu I) dx = -A^T r with A the residual's Jacobian: with mu -> 0 a
    Newton step for (J - I) dx = -(F(h) - h), quadratically convergent at a true fixed point;
    with larger mu a gradient step, so points at a non-zero local minimum of q (slow points)
    settle there instead of diverging. A step is kept only where it lowers q. A point leaves the
    iteration once its step is lost in round-off, its damping is exhausted, or it crawls (q
    down by under 10% in a step) while q is still above `give_up_above`: only the points still
    on their way to a fixed or slow point cost work, packed into rows across systems.
    """
    x = states.detach().clone()
    flat_x = x.view(-1, x.shape[-1])
    r = system.residual(x).reshape(flat_x.shape)
    q = 0.5 * r.pow(2).sum(-1)
    mu = torch.full_like(q, 1e-3)
    moving = include.flatten() & (q > 0)
    eps = torch.finfo(x.dtype).eps
    for step in range(steps):
        if step in (3, 6, 10) and dedupe_tol > 0:
            keep = first_of_duplicates(x, q.view(x.shape[:2]), include, dedupe_tol).flatten()
            moving &= keep
        active = moving & (mu < 1e6)
        total = int(active.sum())
        if total == 0:
            break
        rows, slots, valid = pack_rows(active.view(x.shape[:2]), -(-total // (4 * x.shape[0])))
        xa = flat_x[slots]
        dx = torch.cat(
            [
                _damped_step(system.select(rows[b]), xa[b], r[slots[b]], mu[slots[b]])
                for b in torch.split(torch.arange(len(rows)), max(1, BLOCK // slots.shape[1]))
            ]
        )
        r_new = system.select(rows).residual(xa + dx)[valid]
        x_new, dx, flat = (xa + dx)[valid], dx[valid], slots[valid]
        q_new = 0.5 * r_new.pow(2).sum(-1)
        q_old = q[flat]
        accept = q_new < q_old
        crawling = accept & (q_new > 0.9 * q_old) & (q_new > give_up_above)
        tiny_step = dx.norm(dim=-1) <= 10 * eps * (1 + x_new.norm(dim=-1))
        moving[flat] = ~(crawling | tiny_step) & (q_new > 0)
        moved = flat[accept]
        flat_x[moved], r[moved], q[moved] = x_new[accept], r_new[accept], q_new[accept]
        mu[flat] = torch.where(accept, mu[flat] * 0.1, mu[flat] * 10.0).clamp(min=1e-9)
    return x


def first_of_duplicates(
    states: torch.Tensor, order_key: torch.Tensor, keep: torch.Tensor, tol: float
) -> torch.Tensor:
    """Mask (K, N) of the points to keep: among `keep` points closer than `tol`, the one with the
    smallest `order_key` (q) stands for the group."""
    order = torch.argsort(torch.where(keep, order_key, torch.inf), dim=1)
    ranked = torch.gather(states, 1, order[..., None].expand_as(states))
    ranked_keep = torch.gather(keep, 1, order)
    close = torch.cdist(ranked, ranked) < tol
    earlier = torch.ones_like(close[0]).triu(diagonal=1)
    shadowed = (close & earlier & ranked_keep[:, :, None]).any(dim=1)
    unique_ranked = ranked_keep & ~shadowed
    return torch.zeros_like(keep).scatter(1, order, unique_ranked)


def front_indices(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per system, the indices of its kept points first: index (K, P) and validity (K, P), P
    being the largest kept count (at least 1); padding repeats an index and is marked invalid."""
    width = max(int(keep.sum(1).max()), 1)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
    return order, torch.gather(keep, 1, order)


def gather_points(states: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """states (K, N, S) at index (K, P): (K, P, S)."""
    return torch.gather(states, 1, index[..., None].expand(-1, -1, states.shape[-1]))


def compact(states: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each system's kept points moved to the front: states (K, P, S) and validity (K, P)."""
    index, valid = front_indices(keep)
    return gather_points(states, index), valid
