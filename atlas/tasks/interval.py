"""Interval discrimination: which of two intervals, timed by pulses, was longer."""

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
from atlas.tasks.graph_protocol import END, FREE_RUN_STEPS, GraphProtocol, Stimulus


@dataclass(frozen=True)
class IntervalDiscrimination(TrialTask):
    name = "interval"
    long_name = "interval_discrimination"
    aliases = ("interval_discrimination",)
    description = (
        "Pulse 1 on channel 0 at t1 (timed from trial onset), pulse 2 on channel 1 at t1 + t2; "
        "answer sign(t1 - t2) shortly after pulse 2."
    )
    input_names = ("pulse1", "pulse2")
    output_names = ("decision",)

    trial_length: int = 90
    t_min: int = 10
    t_max: int = 30
    pulse_length: int = 2
    response_delay: int = 15
    response_length: int = 2

    def validate(self) -> None:
        if not 0 < self.t_min < self.t_max:
            raise ParameterError("need 0 < t_min < t_max")
        if self.pulse_length < 1 or self.response_length < 1:
            raise ParameterError("pulse_length and response_length must be positive")
        last = 2 * self.t_max + self.response_delay + self.response_length
        if last > self.trial_length:
            raise ParameterError(f"trial_length must be at least {last}")

    def trials(self, t1: np.ndarray, t2: np.ndarray, trial_length: int | None = None) -> TrialSet:
        length = trial_length or self.trial_length
        inputs, targets = pulse_trials(len(t1), length, 2, 1)
        p, r = self.pulse_length, self.response_length
        for i, (a, b) in enumerate(zip(t1, t2, strict=True)):
            inputs[i, a : a + p, 0] = 1.0
            inputs[i, a + b : a + b + p, 1] = 1.0
            start = a + b + self.response_delay
            targets[i, start : start + r, 0] = np.sign(a - b)
        return to_trial_set(inputs, targets, t1=t1, t2=t2)

    def _grid(self, values: range | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(a, b) for a in values for b in values if a != b]
        t1, t2 = (np.array(c) for c in zip(*pairs, strict=True))
        return t1, t2

    def training_set(self) -> TrialSet:
        return self.trials(*self._grid(range(self.t_min, self.t_max + 1)))

    def validation_set(self) -> TrialSet:
        return self.training_set()

    def probes(self) -> dict[str, TrialSet]:
        t1, t2 = self._grid(np.arange(5, 3 * self.t_max + 1, 5))
        longest = int((t1 + t2).max()) + self.response_delay + self.response_length + 30
        val = self.validation_set()
        return {
            "long_intervals": self.trials(t1, t2, trial_length=longest),
            "long_run": self.trials(val.conditions["t1"], val.conditions["t2"], trial_length=500),
        }

    def input_events(self) -> dict[str, InputEvent]:
        p = self.pulse_length
        return {
            "pulse1": InputEvent("pulse1", 4, ((1.0, 0.0),) * p),
            "pulse2": InputEvent("pulse2", 2, ((0.0, 1.0),) * p),
        }

    def output_label(self, output: np.ndarray) -> np.ndarray:
        return np.sign(np.round(output)).astype(int)

    def graph_protocol(self) -> GraphProtocol:
        """The paper's probes: 10 silent steps, then pulse 1 twenty steps into the trial (t1
        inside the trained range) and, unless the silent lace loops, at its end (t1 far beyond);
        pulse 2 at 12 and 22 steps after the first (t2 inside) and where that lace ends. After
        the late pulse 1 the paper skips the middle pulse 2 when that pulse comes after step 30,
        i.e. whenever the silent lace runs that long; here it always does."""
        second = Stimulus("pulse2", at=(12, 22, END), settle=8)
        late_second = Stimulus("pulse2", at=(12, END), settle=8)
        return GraphProtocol(
            start_inputs=((0.0, 0.0),) * 10,
            start_lace_steps=FREE_RUN_STEPS,
            stimuli=(
                Stimulus("pulse1", at=(10,), settle=1, then=(second,)),
                Stimulus("pulse1", at=(END,), settle=1, then=(late_second,), unless_looping=True),
            ),
            response_events=("pulse2",),
        )
