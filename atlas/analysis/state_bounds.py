"""The box of states that holds every fixed point of a network under a constant input, and
starting states spread over it.

Derivation (per unit, by interval arithmetic on one step, u the constant input):
- vanilla: h' = tanh(W h + b), so every fixed point, and every state after one step, lies in
  (-1, 1)^N; with h in a box B the pre-activation lies in W c(B) +- |W| r(B) (c, r: the box's
  centre and half-widths) and h' in tanh of that interval, which is the next, smaller box.
- GRU: h' = n + z (h - n) with z in (0, 1), so h = h' forces h = n = tanh(x_n + r (W_n h +
  b_n)): fixed points lie in (-1, 1)^N and in the interval image of n over the box.
- LSTM, state [h, c]: c' = f c + i g, h' = o tanh(c'). A fixed point has c = i g / (1 - f) and
  h = o tanh(c), so |h| < 1 and, with the gates' intervals over the h box,
  |c| <= max|i g| / (1 - max f): the cell box. Starting from |c| <= that bound, |c'| <= f_max
  |c| + max|i g| stays below it, so the same box also holds every state reached from a start
  inside it. The bound is loose where a forget gate can saturate (1 - max f ~ 1e-6 on trained
  networks), so starting states are not drawn uniformly in c: c is set to the fixed-point
  value i g / (1 - f) at the drawn h (where the cell is stationary), which is where any fixed
  point with that h has its cell state.
Iterating B <- B intersected with the step's interval image keeps every fixed point (a fixed
point is its own image) and shrinks the box until nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from atlas.networks import RNNPopulation

REFINEMENTS = 30
"""Interval passes at most; they stop earlier once the box stops shrinking (by 1e-9)."""


@dataclass(frozen=True)
class StateBox:
    """Per network a box lower <= state <= upper, each (K, S)."""

    lower: torch.Tensor
    upper: torch.Tensor

    def contains(
        self, states: torch.Tensor, slack: float = 0.0, rows: list[int] | None = None
    ) -> torch.Tensor:
        """Whether states (K, N, S) lie in the box widened by `slack`: (K, N); `rows`: the
        boxes of those networks only (K = len(rows))."""
        lower, upper = (
            (self.lower, self.upper) if rows is None else (self.lower[rows], self.upper[rows])
        )
        low = lower.unsqueeze(1).to(states.dtype) - slack
        high = upper.unsqueeze(1).to(states.dtype) + slack
        return ((states >= low) & (states <= high)).all(-1)


def _affine_interval(
    lower: torch.Tensor, upper: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact range of W h + offset over the box lower <= h <= upper (K, H); W (K, R, H),
    offset (K, R): (K, R) each."""
    centre = ((lower + upper) / 2).unsqueeze(-1)
    radius = ((upper - lower) / 2).unsqueeze(-1)
    mid = (weight @ centre).squeeze(-1) + offset
    spread = (weight.abs() @ radius).squeeze(-1)
    return mid - spread, mid + spread


def _product(
    a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The range of x * y for x in [a], y in [b]: the extremes of the four corners."""
    corners = torch.stack([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]])
    return corners.amin(0), corners.amax(0)


def _parameters(population: RNNPopulation, inputs: torch.Tensor):
    """weight_hh (K, G*H, H) and the constant part of the pre-activations (K, G*H), split as
    b_ih + W_ih u and b_hh (the GRU's candidate gate keeps b_hh inside the reset product)."""
    p = {name: value.detach() for name, value in population.named_parameters()}
    per_network = inputs.expand(population.count, -1) if inputs.dim() == 1 else inputs
    x = torch.einsum("kgi,ki->kg", p["weight_ih"], per_network.to(p["weight_ih"].dtype))
    return p["weight_hh"], x + p["bias_ih"], p["bias_hh"]


def _vanilla_pass(box, weight, x, bias):
    lower, upper = _affine_interval(box[0], box[1], weight, x + bias)
    return torch.tanh(lower), torch.tanh(upper)


def _gru_pass(box, weight, x, bias):
    """h = n at a fixed point: the interval of n = tanh(x_n + r (W_n h + b_n))."""
    units = box[0].shape[-1]
    w_r, _, w_n = weight.split(units, dim=1)
    x_r, _, x_n = x.split(units, dim=-1)
    b_r, _, b_n = bias.split(units, dim=-1)
    r = _affine_interval(box[0], box[1], w_r, x_r + b_r)
    h_n = _affine_interval(box[0], box[1], w_n, b_n)
    gated = _product((torch.sigmoid(r[0]), torch.sigmoid(r[1])), h_n)
    return torch.tanh(x_n + gated[0]), torch.tanh(x_n + gated[1])


def _lstm_gates(lower, upper, weight, x, bias):
    """Intervals of the gates i, f, g, o over the h box, after their nonlinearities."""
    pre_lower, pre_upper = _affine_interval(lower, upper, weight, x + bias)
    gates = []
    for index, (low, high) in enumerate(
        zip(pre_lower.chunk(4, -1), pre_upper.chunk(4, -1), strict=True)
    ):
        squash = torch.tanh if index == 2 else torch.sigmoid
        gates.append((squash(low), squash(high)))
    return gates


def _lstm_pass(box, weight, x, bias):
    """c = i g / (1 - f) and h = o tanh(c) at a fixed point, over the [h, c] box."""
    units = box[0].shape[-1] // 2
    i, f, g, o = _lstm_gates(box[0][..., :units], box[1][..., :units], weight, x, bias)
    drive = _product(i, g)
    leak = (1 - f[1], 1 - f[0])
    corners = torch.stack([d / e for d in drive for e in leak])
    cell = corners.amin(0), corners.amax(0)
    cell = torch.maximum(cell[0], box[0][..., units:]), torch.minimum(cell[1], box[1][..., units:])
    hidden = _product(o, (torch.tanh(cell[0]), torch.tanh(cell[1])))
    return torch.cat([hidden[0], cell[0]], -1), torch.cat([hidden[1], cell[1]], -1)


_PASSES = {"vanilla": _vanilla_pass, "gru": _gru_pass, "lstm": _lstm_pass}


def fixed_point_box(population: RNNPopulation, inputs: torch.Tensor) -> StateBox:
    """The box holding every fixed point of each network under constant inputs (I,) or (K, I),
    in the population's dtype (see the module docstring for the derivation)."""
    weight, x, bias = _parameters(population, inputs)
    count, units = population.count, population.units
    ones = weight.new_ones(count, units)
    lower, upper = -ones, ones
    if population.architecture == "lstm":
        infinite = torch.full_like(ones, torch.inf)
        lower, upper = torch.cat([lower, -infinite], -1), torch.cat([upper, infinite], -1)
    step = _PASSES[population.architecture]
    for _ in range(REFINEMENTS):
        new_lower, new_upper = step((lower, upper), weight, x, bias)
        new_lower, new_upper = torch.maximum(new_lower, lower), torch.minimum(new_upper, upper)
        shrink = torch.maximum(new_lower - lower, upper - new_upper)
        lower, upper = new_lower, new_upper
        if bool((shrink.nan_to_num(posinf=1.0) < 1e-9).all()):
            break
    return StateBox(lower, upper)


def reachable_box(population: RNNPopulation, inputs: torch.Tensor) -> StateBox:
    """The box every state lies in after one step from any state in it, under constant inputs
    (I,) or (K, I) (the slow points' region; fixed points lie in the smaller `fixed_point_box`):
    vanilla, the image of (-1, 1)^N; GRU, (-1, 1)^N (h' is a convex combination of h and n);
    LSTM, h in (-1, 1) and |c| <= max|i g| / (1 - max f) over that h box."""
    weight, x, bias = _parameters(population, inputs)
    ones = weight.new_ones(population.count, population.units)
    if population.architecture == "vanilla":
        return StateBox(*_vanilla_pass((-ones, ones), weight, x, bias))
    if population.architecture == "gru":
        return StateBox(-ones, ones)
    i, f, g, _ = _lstm_gates(-ones, ones, weight, x, bias)
    drive = torch.maximum(_product(i, g)[1], -_product(i, g)[0])
    cell = drive / (1 - f[1])
    return StateBox(torch.cat([-ones, -cell], -1), torch.cat([ones, cell], -1))


def stationary_cell(
    population: RNNPopulation, inputs: torch.Tensor, hidden: torch.Tensor
) -> torch.Tensor:
    """An LSTM's cell state c = i g / (1 - f) that the cell keeps under its gates at hidden
    states (K, N, H) and constant inputs (I,) or (K, I): (K, N, H)."""
    weight, x, bias = _parameters(population, inputs)
    pre = torch.baddbmm((x + bias).unsqueeze(1), hidden, weight.mT)
    i, f, g, _ = pre.chunk(4, dim=-1)
    return torch.sigmoid(i) * torch.tanh(g) / torch.sigmoid(-f)


def box_states(
    population: RNNPopulation,
    inputs: torch.Tensor,
    box: StateBox,
    count: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """`count` states per network (K, count, S) spread uniformly over the box; an LSTM's cell
    state is set to the stationary cell of the drawn h, clipped to the box."""
    shape = (population.count, count, population.units)
    units = population.units
    unit = torch.rand(shape, generator=generator, dtype=box.lower.dtype)
    low, high = box.lower[:, None, :units], box.upper[:, None, :units]
    hidden = low + unit * (high - low)
    if population.architecture != "lstm":
        return hidden
    cell = stationary_cell(population, inputs, hidden)
    cell = torch.minimum(
        torch.maximum(cell, box.lower[:, None, units:]), box.upper[:, None, units:]
    )
    return torch.cat([hidden, cell], -1)
