"""Interval reproduction (ready-set-go): reproduce the Ready-Set interval after Set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlas.tasks.base import (
    InputEvent,
    ParameterError,
    TrialSet,
    TrialTask,
    pulse_trials,
    to_trial_set,
)
from atlas.tasks.graph_protocol import BEFORE_RISE, FREE_RUN_STEPS, GraphProtocol, Stimulus


@dataclass(frozen=True)
class IntervalReproduction(TrialTask):
    name = "reproduction"
    long_name = "interval_reproduction"
    aliases = ("interval_reproduction", "rsg", "time_reproduction", "ready_set_go")
    description = (
        "Ready on channel 0, Set on channel 1 ts steps later; produce Go (output 1) ts steps "
        "after Set."
    )
    input_names = ("ready", "set")
    output_names = ("go",)

    trial_length: int = 150
    ts_min: int = 20
    ts_max: int = 50
    ready_onset: int = 5
    pulse_length: int = 5
    training_trials: int = 128
    training_seed: int = 0

    def validate(self) -> None:
        if not 0 < self.ts_min <= self.ts_max:
            raise ParameterError("need 0 < ts_min <= ts_max")
        if self.pulse_length < 1 or self.training_trials < 1:
            raise ParameterError("pulse_length and training_trials must be positive")
        last = self.ready_onset + 2 * self.ts_max + self.pulse_length
        if last > self.trial_length:
            raise ParameterError(f"trial_length must be at least {last}")

    def trials(self, ts: np.ndarray, trial_length: int | None = None) -> TrialSet:
        length = trial_length or self.trial_length
        inputs, targets = pulse_trials(len(ts), length, 2, 1)
        r, p = self.ready_onset, self.pulse_length
        for i, t in enumerate(ts):
            inputs[i, r : r + p, 0] = 1.0
            inputs[i, r + t : r + t + p, 1] = 1.0
            targets[i, r + 2 * t : r + 2 * t + p, 0] = 1.0
        return to_trial_set(inputs, targets, ts=ts)

    def training_set(self) -> TrialSet:
        rng = np.random.default_rng(self.training_seed)
        return self.trials(rng.integers(self.ts_min, self.ts_max + 1, self.training_trials))

    def validation_set(self) -> TrialSet:
        return self.trials(np.arange(self.ts_min, self.ts_max + 1))

    def probes(self) -> dict[str, TrialSet]:
        ts = np.arange(5, 3 * self.ts_max + 11)
        return {
            "ts_sweep": self.trials(ts, trial_length=self.ready_onset + 4 * int(ts.max())),
            "long_run": self.trials(np.arange(self.ts_min, self.ts_max + 1), trial_length=600),
        }

    def input_events(self) -> dict[str, InputEvent]:
        p = self.pulse_length
        return {
            "ready": InputEvent("ready", 1, ((1.0, 0.0),) * p),
            "set": InputEvent("set", 2, ((0.0, 1.0),) * p),
        }

    def output_label(self, output: np.ndarray) -> np.ndarray:
        return (np.asarray(output) > 0.15).astype(int)

    def graph_protocol(self) -> GraphProtocol:
        """The paper's probes: start 20 steps after Ready onset; Set at lace step 20 (inside
        the trained intervals) and just before the network's own output rise (beyond them)."""
        ready = self.input_events()["ready"].inputs
        silent = ((0.0, 0.0),)
        after_ready = 20 - len(ready) + 1  # the state 20 steps after onset needs one step more
        return GraphProtocol(
            start_inputs=silent * self.ready_onset + ready + silent * after_ready,
            start_lace_steps=FREE_RUN_STEPS,
            stimuli=(Stimulus("set", at=(20, BEFORE_RISE), settle=5),),
            response_events=("set",),
        )
