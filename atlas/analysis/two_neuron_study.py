"""The two-neuron study end to end: train a population, read each network's final regime two
ways, and relate it to where the network started (its initial W)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlas.analysis.two_neuron_maps import regime_maps
from atlas.analysis.two_neuron_regimes import (
    REGIMES,
    UNDETERMINED,
    dynamic_regimes,
    eigenvalue_regimes,
    regime_counts,
)
from atlas.studies import TwoNeuronModel
from atlas.training import TwoNeuronTrainingConfig, train_two_neuron


@dataclass
class TwoNeuronStudy:
    """Per network (n of them): seed, initial and final W (n, 2, 2), final loss, solved; the
    final regime by the eigenvalue rule and by the dynamics (with the cycle period, NaN if
    none), the initial W's trace, determinant and eigenvalue-rule regime; the regime maps."""

    seeds: np.ndarray
    initial_w: np.ndarray
    final_w: np.ndarray
    loss: np.ndarray
    solved: np.ndarray
    regimes: np.ndarray
    dynamic_regimes: np.ndarray
    periods: np.ndarray
    initial_trace: np.ndarray
    initial_determinant: np.ndarray
    initial_regimes: np.ndarray
    maps: dict[str, bytes] = field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        """Regime counts among the solved networks and among all, both readings, and how often
        the two readings agree."""
        s = self.solved
        return {
            "n": len(self.loss),
            "solved": int(s.sum()),
            "regimes_solved": regime_counts(self.regimes[s]),
            "regimes_all": regime_counts(self.regimes),
            "dynamic_regimes_solved": _with_undetermined(self.dynamic_regimes[s]),
            "dynamic_regimes_all": _with_undetermined(self.dynamic_regimes),
            "readings_agree": int((self.regimes == self.dynamic_regimes).sum()),
        }

    def transitions(self) -> dict[str, dict[str, int]]:
        """Among solved networks: final regime counts by the initial W's eigenvalue regime."""
        s = self.solved
        return {
            start: regime_counts(self.regimes[s & (self.initial_regimes == start)])
            for start in REGIMES
        }

    def initial_w_by_regime(self) -> dict[str, dict[str, float | None]]:
        """Among solved networks: mean initial trace and determinant per final regime."""
        out: dict[str, dict[str, float | None]] = {}
        for regime in REGIMES:
            chosen = self.solved & (self.regimes == regime)
            out[regime] = {
                "count": int(chosen.sum()),
                "mean_trace": _mean(self.initial_trace[chosen]),
                "mean_determinant": _mean(self.initial_determinant[chosen]),
            }
        return out

    def to_dict(self, include_arrays: bool = False) -> dict[str, Any]:
        """JSON-ready: counts, transitions, initial W by regime (and, under "arrays", the
        per-network arrays)."""
        out: dict[str, Any] = {
            **self.counts(),
            "transitions": self.transitions(),
            "initial_w_by_regime": self.initial_w_by_regime(),
            "maps": sorted(self.maps),
        }
        if include_arrays:
            names = ("seeds", "initial_w", "final_w", "loss", "solved", "regimes")
            arrays = {name: getattr(self, name).tolist() for name in names}
            arrays["dynamic_regimes"] = self.dynamic_regimes.tolist()
            arrays["periods"] = [None if np.isnan(p) else float(p) for p in self.periods]
            out["arrays"] = arrays
        return out


def _with_undetermined(regimes: np.ndarray) -> dict[str, int]:
    return {**regime_counts(regimes), UNDETERMINED: int((regimes == UNDETERMINED).sum())}


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def run_two_neuron_study(
    n: int = 10_000,
    seed: int = 0,
    config: TwoNeuronTrainingConfig | None = None,
    model: TwoNeuronModel | None = None,
    draw_maps: bool = True,
    progress_bar: bool = False,
) -> TwoNeuronStudy:
    """Train n two-neuron networks (seeds seed .. seed + n - 1), classify every final W by the
    eigenvalue rule and by its dynamics from x0, and draw the regime maps over initial W."""
    if n < 1:
        raise ValueError("the study needs at least one network")
    model = model or TwoNeuronModel()
    outcome = train_two_neuron(
        model, range(seed, seed + n), config or TwoNeuronTrainingConfig(), progress_bar=progress_bar
    )
    regimes = eigenvalue_regimes(outcome.final_w)
    dynamics = dynamic_regimes(outcome.final_w, model)
    return TwoNeuronStudy(
        seeds=outcome.seeds,
        initial_w=outcome.initial_w,
        final_w=outcome.final_w,
        loss=outcome.loss,
        solved=outcome.solved,
        regimes=regimes,
        dynamic_regimes=dynamics.regimes,
        periods=dynamics.periods,
        initial_trace=np.trace(outcome.initial_w, axis1=1, axis2=2),
        initial_determinant=np.linalg.det(outcome.initial_w),
        initial_regimes=eigenvalue_regimes(outcome.initial_w),
        maps=regime_maps(outcome.initial_w, regimes, outcome.solved) if draw_maps else {},
    )
