"""The two-neuron model of science.md: dx/dt = -x + W tanh(x), steer x(0) = (1, 0) to x(10) =
(0, 1). A study model, not a task: no inputs, no trials; its networks are 2x2 matrices W."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from atlas.tasks import ParameterError


@dataclass(frozen=True)
class TwoNeuronModel:
    """The model's parameters (the dataclass fields), overridable by name like a task's."""

    name: ClassVar[str] = "two_neuron"
    aliases: ClassVar[tuple[str, ...]] = ("two_neuron_study", "2d", "two_neurons")
    description: ClassVar[str] = (
        "Continuous-time two-neuron network dx/dt = -x + W tanh(x), no inputs or biases; "
        "W is trained so that x(t_final) = target from x(0) = x0 (RK4)."
    )

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

    def parameters(self) -> dict[str, Any]:
        """The parameters as JSON-ready values (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    def with_overrides(self, **overrides: Any) -> TwoNeuronModel:
        """A copy with some parameters replaced; unknown names and values of the wrong kind
        raise ParameterError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ParameterError(
                f"model {self.name!r} has no parameter {', '.join(unknown)}; its parameters: "
                f"{', '.join(sorted(known))}"
            )
        for name, value in overrides.items():
            _check_type(name, value, getattr(self, name))
        converted = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        model = dataclasses.replace(self, **converted)
        model.validate()
        return model

    def validate(self) -> None:
        """Raise ParameterError if the parameters cannot be integrated or trained from."""
        if self.dt <= 0 or self.t_final <= 0:
            raise ParameterError("dt and t_final must be positive")
        if abs(self.n_steps * self.dt - self.t_final) > 1e-9 * self.t_final:
            raise ParameterError("t_final must be a whole number of dt steps")
        if not self.w_init_low < self.w_init_high:
            raise ParameterError("need w_init_low < w_init_high")
        if len(self.x0) != 2 or len(self.target) != 2:
            raise ParameterError("x0 and target are points in R^2")


def _check_type(name: str, value: Any, default: Any) -> None:
    """An override has its parameter's kind: an integer where the default is one (never a
    boolean or 2.0), a finite number where it is a float, a list as long as a tuple's."""
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or len(value) != len(default):
            raise ParameterError(f"{name} must be a list of {len(default)} numbers")
        for item, item_default in zip(value, default, strict=True):
            _check_type(name, item, item_default)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{name} must be a number, not {value!r}")
    if isinstance(default, int) and not isinstance(value, int):
        raise ParameterError(f"{name} must be an integer, not {value!r}")
    if not np.isfinite(value):
        raise ParameterError(f"{name} must be finite, not {value!r}")
