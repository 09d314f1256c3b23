"""K networks of one architecture and size, held as stacked tensors and run together.

Parameter k of every stacked tensor is network k: `weight_ih[k]` is exactly the
`rnn.weight_ih_l0` of network k's PyTorch state dict. Every computation is batched over
networks with bmm/einsum, never a Python loop over k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from atlas.networks.cells import GATES, STATE_FACTOR, STEPS
from atlas.networks.fused import readout, sweep, sweep_outputs

ARCHITECTURES = tuple(GATES)
PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "fc_weight", "fc_bias")
ALL_NETWORKS = slice(None)


@dataclass
class Run:
    """Outputs (K, B, T, O) and states (K, B, T, S) of a population on a batch of trials."""

    outputs: torch.Tensor
    states: torch.Tensor


INITIALISATIONS = ("scaled", "pytorch")
"""How a network's first weights are drawn: "scaled" is science.md's recipe, PyTorch's default
divided by sqrt(units); "pytorch" is PyTorch's default itself, the initial weights the paper
saved for its released `reproduction` vanilla networks (std 1/sqrt(3 units) at every size,
where its GRU and LSTM networks have the scaled std 1/(sqrt(3) units))."""


def initial_parameters(
    architecture: str,
    units: int,
    n_inputs: int,
    n_outputs: int,
    seed: int,
    initialisation: str = "scaled",
) -> dict[str, torch.Tensor]:
    """One network's parameters, the paper's way: PyTorch's default init divided by sqrt(units)
    (or, under "pytorch" initialisation, not divided).

    PyTorch draws RNN weights and biases from U(-1/sqrt(units), 1/sqrt(units)) and a Linear
    layer's from U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the paper then scales all by 1/sqrt(units).
    Drawing from a generator seeded by `seed` alone makes each network reproducible on its own.
    """
    if initialisation not in INITIALISATIONS:
        raise ValueError(f"unknown initialisation {initialisation!r}; known: {INITIALISATIONS}")
    gen = torch.Generator().manual_seed(seed)
    rows = GATES[architecture] * units
    bound = 1.0 / math.sqrt(units)
    if initialisation == "scaled":
        bound /= math.sqrt(units)
    shapes = {
        "weight_ih": (rows, n_inputs),
        "weight_hh": (rows, units),
        "bias_ih": (rows,),
        "bias_hh": (rows,),
        "fc_weight": (n_outputs, units),
        "fc_bias": (n_outputs,),
    }
    return {
        name: (torch.rand(shape, generator=gen) * 2 - 1) * bound for name, shape in shapes.items()
    }


class RNNPopulation(nn.Module):
    """A population of K vanilla, GRU or LSTM networks with a linear readout."""

    def __init__(self, architecture: str, parameters: dict[str, torch.Tensor]):
        super().__init__()
        if architecture not in GATES:
            raise ValueError(f"unknown architecture {architecture!r}; known: {ARCHITECTURES}")
        self.architecture = architecture
        for name in PARAMETER_NAMES:
            self.register_parameter(name, nn.Parameter(parameters[name].clone()))
        _, rows, units = self.weight_hh.shape
        if rows != GATES[architecture] * units:
            raise ValueError(f"weight_hh rows {rows} do not fit {architecture} with {units} units")

    @classmethod
    def initialise(
        cls,
        architecture: str,
        units: int,
        seeds: Sequence[int],
        n_inputs: int = 2,
        n_outputs: int = 1,
        initialisation: str = "scaled",
    ) -> RNNPopulation:
        nets = [
            initial_parameters(architecture, units, n_inputs, n_outputs, s, initialisation)
            for s in seeds
        ]
        stacked = {name: torch.stack([n[name] for n in nets]) for name in PARAMETER_NAMES}
        return cls(architecture, stacked)

    @property
    def count(self) -> int:
        return self.weight_hh.shape[0]

    @property
    def units(self) -> int:
        return self.weight_hh.shape[2]

    @property
    def n_inputs(self) -> int:
        return self.weight_ih.shape[2]

    @property
    def n_outputs(self) -> int:
        return self.fc_weight.shape[1]

    @property
    def state_size(self) -> int:
        """Size of the analysed state: units, or 2 * units for an LSTM's [h, c]."""
        return STATE_FACTOR[self.architecture] * self.units

    def stacked_parameters(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).detach().clone() for name in PARAMETER_NAMES}

    def select(self, index: Sequence[int] | torch.Tensor) -> RNNPopulation:
        """A new population holding copies of the chosen networks."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.weight_hh.device)
        return RNNPopulation(
            self.architecture, {n: p[idx] for n, p in self.stacked_parameters().items()}
        )

    def zero_state(self, batch: int) -> torch.Tensor:
        return self.weight_hh.new_zeros(self.count, batch, self.state_size)

    def _per_network(self, inputs: torch.Tensor) -> torch.Tensor:
        """Inputs (..., I) shared by all networks or (K, ..., I) per network -> (K, ..., I)."""
        if inputs.dim() == 4:
            if inputs.shape[0] != self.count:
                raise ValueError(
                    f"per-network inputs for {inputs.shape[0]} networks, not {self.count}"
                )
            return inputs
        return inputs.unsqueeze(0).expand(self.count, *inputs.shape)

    def input_projection(self, inputs: torch.Tensor) -> torch.Tensor:
        """W_ih x + b_ih for inputs (K, B, T, I) -> (K, B, T, G*H), one einsum for all steps."""
        proj = torch.einsum("kbti,kgi->kbtg", inputs, self.weight_ih)
        return proj + self.bias_ih[:, None, None, :]

    def readout(self, states: torch.Tensor) -> torch.Tensor:
        """Outputs for states (K, ..., S): the linear readout of h (the first `units` entries)."""
        h = states[..., : self.units]
        shape = h.shape
        out = readout(h.reshape(self.count, -1, self.units), self.fc_weight, self.fc_bias)
        return out.reshape(*shape[:-1], self.n_outputs)

    def step(self, states: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """F(h, u): one step from states (K, N, S) under inputs (K, N, I) or (I,)."""
        if inputs.dim() == 1:
            inputs = inputs.expand(self.count, states.shape[1], -1)
        xproj = torch.baddbmm(self.bias_ih.unsqueeze(1), inputs, self.weight_ih.transpose(1, 2))
        return STEPS[self.architecture](states, xproj, self.weight_hh.transpose(1, 2), self.bias_hh)

    def forward(self, inputs: torch.Tensor, initial_state: torch.Tensor | None = None) -> Run:
        """Run trials (B, T, I), shared by all networks, or (K, B, T, I), one set per network.

        The sweep through time is atlas.networks.fused (explicit BPTT under autograd); it runs
        time-major, and `Run` holds (K, B, T, ...) views of its (K, T, B, ...) results.
        """
        hidden, cells = self.hidden_states(inputs, initial_state)
        outputs = self.readout(hidden).transpose(1, 2)
        states = hidden if cells is None else torch.cat([hidden, cells], dim=-1)
        return Run(outputs=outputs, states=states.transpose(1, 2))

    def hidden_states(
        self, inputs: torch.Tensor, initial_state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Time-major hidden states (K, T, B, H) and an LSTM's cell states (else None)."""
        return sweep(self.architecture, *self._sweep_arguments(inputs, initial_state, ALL_NETWORKS))

    def training_outputs(
        self, inputs: torch.Tensor, networks: slice = ALL_NETWORKS
    ) -> torch.Tensor:
        """Time-major outputs (K, T, B, O) from the zero state, differentiable in the parameters
        (atlas.networks.fused.sweep_outputs: the states never leave the sweep). `networks` runs
        a contiguous group of the population alone, its parameters as views: gradients reach
        the population's own."""
        return sweep_outputs(
            self.architecture,
            *self._sweep_arguments(inputs, None, networks),
            self.fc_weight[networks],
            self.fc_bias[networks],
        )

    def _sweep_arguments(
        self, inputs: torch.Tensor, initial_state: torch.Tensor | None, networks: slice
    ) -> tuple[torch.Tensor, ...]:
        """Time-major inputs, the initial state and the recurrent parameters of `networks`."""
        inputs = inputs.to(self.weight_hh.dtype)
        count = len(range(self.count)[networks])
        if inputs.dim() == 4 and inputs.shape[0] != count:
            raise ValueError(f"per-network inputs for {inputs.shape[0]} networks, not {count}")
        batch = inputs.shape[-3]
        if initial_state is None:
            initial_state = self.weight_hh.new_zeros(count, batch, self.state_size)
        time_major = inputs.transpose(-3, -2)
        if time_major.dim() == 3:
            time_major = time_major.unsqueeze(0)
        return (
            time_major,
            initial_state,
            self.weight_ih[networks],
            self.weight_hh[networks],
            self.bias_ih[networks],
            self.bias_hh[networks],
        )

    def mse(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean squared error per network, (K,), over every trial, step and output."""
        targets = self._per_network(targets.to(self.weight_hh.dtype))
        err = self(inputs).outputs - targets
        return err.pow(2).flatten(1).mean(dim=1)
