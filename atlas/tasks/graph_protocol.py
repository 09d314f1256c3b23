"""How a task asks for its reduced-dynamics graph: where it starts, which pulses go where.

The graph builder (atlas.analysis.graph) is one algorithm; a task only declares a
GraphProtocol (`protocol_from` builds it from the `graph` part of the task's declaration). A
lace is a run of the network from one state; a Stimulus applies one of the
task's InputEvents at chosen positions of a lace and follows the network from the state the
pulse leaves, which starts a new lace joined to the old one by an edge of the event's type.

Positions on a lace: an integer is a step along the lace's path in the graph (the lace itself,
then wherever it merged); END is the path's last node; BEFORE_RISE is the last step before the
lace's output rises above its usual range (its spontaneous answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atlas.tasks.expressions import evaluate

if TYPE_CHECKING:
    from atlas.tasks.base import InputEvent
    from atlas.tasks.declaration import GraphSpec, StimulusSpec

END = "end"
BEFORE_RISE = "before_rise"
FREE_RUN_STEPS = 500
"""A free-running lace lasts far beyond a trial, so long-wait behaviour belongs to the graph."""
MAX_DECLARED_STEPS = 100_000
"""The most steps a declaration may ask for in one place (a lace, a silent stretch, a pulse)."""


def declared_steps(expression: Any, names: Mapping[str, Any], what: str) -> int:
    """A number of steps from a declaration, checked to be 0..MAX_DECLARED_STEPS."""
    value = evaluate(expression, names)
    if not 0 <= value <= MAX_DECLARED_STEPS or int(value) != value:
        raise ValueError(f"{what} must be a whole number of steps up to {MAX_DECLARED_STEPS}")
    return int(value)


Position = int | str


@dataclass(frozen=True)
class Stimulus:
    """Apply `event` at `at` on a lace; `then` applies further stimuli on the lace it starts.

    The pulse is followed by `settle` zero-input steps before the new lace, which lasts
    `lace_steps` steps. With `unless_looping` the stimulus is skipped on a lace that closed a
    loop (its dynamics already repeat, so its end is no new place to probe).
    """

    event: str
    at: tuple[Position, ...]
    settle: int
    lace_steps: int = FREE_RUN_STEPS
    then: tuple[Stimulus, ...] = ()
    unless_looping: bool = False

    def __post_init__(self) -> None:
        for position in self.at:
            if isinstance(position, str) and position not in (END, BEFORE_RISE):
                raise ValueError(f"unknown lace position {position!r}")
            if isinstance(position, int) and position < 0:
                raise ValueError("lace positions are non-negative steps")
        if self.settle < 0 or self.lace_steps < 1:
            raise ValueError("settle must be >= 0 and lace_steps >= 1")


@dataclass(frozen=True)
class GraphProtocol:
    """Everything the graph builder needs to know about a task.

    `start_inputs` ((T, I) values, may be empty) are fed from the zero state; the start lace,
    node 0 onwards, follows with zero input for `start_lace_steps`.
    `in_trial`: laces are trial epochs of fixed length (True) rather than free runs to the
    network's long-run behaviour (False). An epoch is not cut at a fixed point, a stimulus at
    its END continues from the epoch's last step (the trial goes on), and components are not
    joined by their attractors, which epochs do not reach.
    `response_events` name the pulses after which the network answers; compaction treats the
    silent stretch that follows them as the run-up to the answer.
    """

    start_inputs: tuple[tuple[float, ...], ...]
    start_lace_steps: int
    stimuli: tuple[Stimulus, ...]
    response_events: tuple[str, ...]
    in_trial: bool = False

    def events(self) -> tuple[str, ...]:
        """Every event name the protocol uses, in the order it first uses them."""
        names: list[str] = []
        pending = list(self.stimuli)
        while pending:
            stimulus = pending.pop(0)
            if stimulus.event not in names:
                names.append(stimulus.event)
            pending.extend(stimulus.then)
        return tuple(names)


def protocol_from(
    spec: GraphSpec, names: Mapping[str, Any], events: Mapping[str, InputEvent]
) -> GraphProtocol:
    """The protocol a declaration's `graph` describes, its numbers evaluated with `names`."""
    start: tuple[tuple[float, ...], ...] = ()
    silent = (0.0,) * len(next(iter(events.values())).inputs[0]) if events else ()
    for segment in spec.start:
        if segment.event is not None:
            start += events[segment.event].inputs
        if segment.silent is not None:
            start += (silent,) * declared_steps(segment.silent, names, "graph.start.silent")
    lace = FREE_RUN_STEPS if spec.start_lace_steps is None else spec.start_lace_steps
    return GraphProtocol(
        start_inputs=start,
        start_lace_steps=declared_steps(lace, names, "graph.start_lace_steps"),
        stimuli=tuple(_stimulus(s, names) for s in spec.stimuli),
        response_events=tuple(spec.response_events),
        in_trial=spec.in_trial,
    )


def _stimulus(spec: StimulusSpec, names: Mapping[str, Any]) -> Stimulus:
    at = tuple(
        p if p in (END, BEFORE_RISE) else declared_steps(p, names, f"{spec.event}.at")
        for p in spec.at
    )
    lace = FREE_RUN_STEPS if spec.lace_steps is None else spec.lace_steps
    return Stimulus(
        spec.event,
        at=at,
        settle=declared_steps(spec.settle, names, f"{spec.event}.settle"),
        lace_steps=declared_steps(lace, names, f"{spec.event}.lace_steps"),
        then=tuple(_stimulus(s, names) for s in spec.then),
        unless_looping=spec.unless_looping,
    )
