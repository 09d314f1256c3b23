"""Adam over stacked parameters, with a learning rate and a step count for every network.

`torch.optim.Adam` keeps one learning rate per parameter group and one step count per tensor.
Here a tensor stacks K networks (row k is network k), and each network needs its own learning
rate (its own phase and plateau schedule) and its own step count (its second phase restarts
Adam), so this small optimiser does Adam's arithmetic, exactly as torch.optim.Adam does it,
with per-network vectors broadcast over the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class BatchedAdam:
    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: torch.Tensor,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params = list(params)
        self.lr = lr.to(self.params[0])
        self.steps = torch.zeros_like(self.lr)
        self.betas = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every network from the gradients in `param.grad`."""
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1**self.steps)
        bias_correction2_sqrt = (1 - beta2**self.steps).sqrt()
        for param, exp_avg, exp_avg_sq in zip(
            self.params, self.exp_avg, self.exp_avg_sq, strict=True
        ):
            grad = param.grad
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            shape = (-1,) + (1,) * (param.dim() - 1)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt.view(shape)).add_(self.eps)
            param.sub_(step_size.view(shape) * exp_avg / denom)

    def restart(self, networks: torch.Tensor) -> None:
        """A fresh Adam (zero moments and step count) for the networks in the mask, in place
        (a recorded step, atlas.training.graphed_step, holds these tensors)."""
        self.steps.masked_fill_(networks, 0)
        for exp_avg, exp_avg_sq in zip(self.exp_avg, self.exp_avg_sq, strict=True):
            shape = (-1,) + (1,) * (exp_avg.dim() - 1)
            exp_avg.mul_(~networks.view(shape))
            exp_avg_sq.mul_(~networks.view(shape))

    def keep(self, index: torch.Tensor, params: Sequence[torch.Tensor]) -> None:
        """Keep only the networks at `index`, now optimising `params` (their rows)."""
        self.params = list(params)
        self.lr = self.lr[index]
        self.steps = self.steps[index]
        self.exp_avg = [m[index] for m in self.exp_avg]
        self.exp_avg_sq = [v[index] for v in self.exp_avg_sq]
