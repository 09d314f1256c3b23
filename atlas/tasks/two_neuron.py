"""The two-neuron study: dx/dt = -x + W tanh(x), steer x(0) = (1, 0) to x(10) = (0, 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from atlas.tasks.base import ParameterError, Task


@dataclass(frozen=True)
class TwoNeuron(Task):
    name = "two_neuron"
    long_name = "two_neuron_study"
    aliases = ("two_neuron_study", "2d", "two_neurons")
    description = (
        "Continuous-time two-neuron network dx/dt = -x + W tanh(x), no inputs or biases; "
        "W is trained so that x(t_final) = target from x(0) = x0 (RK4)."
    )
    output_names = ("x1", "x2")
    kind: ClassVar[str] = "continuous"

    x0: tuple[float, float] = (1.0, 0.0)
    target: tuple[float, float] = (0.0, 1.0)
    t_final: float = 10.0
    dt: float = 0.01
    w_init_low: float = -1.5
    w_init_high: float = 1.5
    solved_loss: float = 1e-4

    @property
    def n_steps(self) -> int:
        return round(self.t_final / self.dt)

    def validate(self) -> None:
        if self.dt <= 0 or self.t_final <= 0:
            raise ParameterError("dt and t_final must be positive")
        if abs(self.n_steps * self.dt - self.t_final) > 1e-9 * self.t_final:
            raise ParameterError("t_final must be a whole number of dt steps")
        if not self.w_init_low < self.w_init_high:
            raise ParameterError("need w_init_low < w_init_high")
        if len(self.x0) != 2 or len(self.target) != 2:
            raise ParameterError("x0 and target are points in R^2")
