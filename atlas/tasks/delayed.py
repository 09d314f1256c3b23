"""Delayed discrimination: compare two stimulus amplitudes separated by a variable delay."""

from __future__ import annotations

import itertools
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
from atlas.tasks.graph_protocol import END, GraphProtocol, Stimulus


@dataclass(frozen=True)
class DelayedDiscrimination(TrialTask):
    name = "delayed"
    long_name = "delayed_discrimination"
    aliases = ("delayed_discrimination", "delayed_discrimination_60")
    description = (
        "f1 on channel 0, then after a delay f2 on channel 1; answer sign(f1 - f2) "
        "in a response window that follows f2."
    )
    input_names = ("f1", "f2")
    output_names = ("decision",)

    trial_length: int = 60
    f_min: int = 2
    f_max: int = 10
    delay_min: int = 0
    delay_max: int = 19
    f1_onset: int = 5
    f2_onset: int = 15
    response_onset: int = 30
    pulse_length: int = 5
    response_length: int = 5

    def validate(self) -> None:
        if not 0 < self.f_min < self.f_max:
            raise ParameterError("need 0 < f_min < f_max")
        if not 0 <= self.delay_min <= self.delay_max:
            raise ParameterError("need 0 <= delay_min <= delay_max")
        if self.pulse_length < 1 or self.response_length < 1:
            raise ParameterError("pulse_length and response_length must be positive")
        if not self.f1_onset + self.pulse_length <= self.f2_onset < self.response_onset:
            raise ParameterError("need f1_onset + pulse_length <= f2_onset < response_onset")
        if self.response_onset + self.delay_max + self.response_length > self.trial_length:
            raise ParameterError("trial_length too short for the longest delay's response")

    def trials(
        self, f1: np.ndarray, f2: np.ndarray, delay: np.ndarray, trial_length: int | None = None
    ) -> TrialSet:
        """Trials for given (f1, f2, delay) triples; targets follow the task's rule."""
        length = trial_length or self.trial_length
        inputs, targets = pulse_trials(len(f1), length, 2, 1)
        p, r = self.pulse_length, self.response_length
        for i, (a, b, d) in enumerate(zip(f1, f2, delay, strict=True)):
            inputs[i, self.f1_onset : self.f1_onset + p, 0] = a
            inputs[i, self.f2_onset + d : self.f2_onset + d + p, 1] = b
            targets[i, self.response_onset + d : self.response_onset + d + r, 0] = np.sign(a - b)
        return to_trial_set(inputs, targets, f1=f1, f2=f2, delay=delay)

    def _pairs(self) -> list[tuple[int, int]]:
        values = range(self.f_min, self.f_max + 1)
        return [(a, b) for a, b in itertools.product(values, values) if a != b]

    def training_set(self) -> TrialSet:
        grid = [
            (a, b, d) for d in range(self.delay_min, self.delay_max + 1) for a, b in self._pairs()
        ]
        f1, f2, d = (np.array(c) for c in zip(*grid, strict=True))
        return self.trials(f1, f2, d)

    def validation_set(self) -> TrialSet:
        f1, f2 = (np.array(c) for c in zip(*self._pairs(), strict=True))
        return self.trials(f1, f2, np.full(len(f1), self.delay_max))

    def probes(self) -> dict[str, TrialSet]:
        amplitudes = np.arange(0.5, 2 * self.f_max + 0.5, 0.5)
        amp_pairs = [(a, b) for a in amplitudes for b in amplitudes if a != b]
        f1a, f2a = (np.array(c) for c in zip(*amp_pairs, strict=True))
        delays = np.array(sorted({self.delay_max, *range(20, 5 * (self.delay_max + 1) + 1, 10)}))
        long_delay = [(a, b, d) for d in delays for a, b in self._pairs()]
        f1d, f2d, dd = (np.array(c) for c in zip(*long_delay, strict=True))
        longest = self.response_onset + int(dd.max()) + self.response_length + 30
        val = self.validation_set()
        return {
            "amplitude": self.trials(f1a, f2a, np.full(len(f1a), self.delay_max)),
            "long_delay": self.trials(f1d, f2d, dd, trial_length=longest),
            "long_run": self.trials(
                val.conditions["f1"],
                val.conditions["f2"],
                val.conditions["delay"],
                trial_length=500,
            ),
        }

    def input_events(self) -> dict[str, InputEvent]:
        p = self.pulse_length
        events = {}
        for amp in (4, 8):
            events[f"f1_{amp}"] = InputEvent(f"f1_{amp}", amp, ((float(amp), 0.0),) * p)
        for amp in (2, 6, 10):
            events[f"f2_{amp}"] = InputEvent(f"f2_{amp}", amp, ((0.0, float(amp)),) * p)
        return events

    def output_label(self, output: np.ndarray) -> np.ndarray:
        return np.sign(np.round(output)).astype(int)

    def graph_protocol(self) -> GraphProtocol:
        """The paper's in-trial epochs: the silent start, the wait after f1 in {4, 8} up to the
        longest delay, and the answer to f2 = f1 -/+ 2 up to the trial's end; each epoch leaves
        out its first 5 steps after the pulse."""
        settle = 5
        f2_onset = self.f2_onset + self.delay_max
        wait = f2_onset - (self.f1_onset + self.pulse_length) - settle
        answer = self.trial_length - (f2_onset + self.pulse_length) - settle

        def f2(amp: int) -> Stimulus:
            return Stimulus(f"f2_{amp}", at=(END,), settle=settle, lace_steps=answer)

        return GraphProtocol(
            start_inputs=(),
            start_lace_steps=self.f1_onset,
            stimuli=tuple(
                Stimulus(
                    f"f1_{a}",
                    at=(END,),
                    settle=settle,
                    lace_steps=wait,
                    then=(f2(a - 2), f2(a + 2)),
                )
                for a in (4, 8)
            ),
            response_events=("f2_2", "f2_6", "f2_10"),
            in_trial=True,
        )
