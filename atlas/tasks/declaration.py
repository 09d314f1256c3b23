"""The shape of a task declaration: everything the atlas needs to know about a trial task.

A declaration is data (JSON or YAML; see docs/tasks.md): named parameters, named periods whose
onset and duration may depend on trial variables, the value of each input channel and target
output in each period, the training and validation sets (grids or seeded samples of the trial
variables), probes beyond the training range, the input events that drive the reduced graph and
where the graph applies them, the windows the neural features measure, and the extrapolation
signature to record. Numbers may be written as expressions over the parameters (and, where a
trial is at hand, the trial variables): `"f2_onset + delay"`; see atlas.tasks.expressions.

These models check the structure only; atlas.tasks.checks checks the meaning (names,
periods inside the trial, sizes) and says what is wrong in one message per mistake.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from atlas.tasks.expressions import Expression

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ValueRange(Strict):
    """Values from `from` to `to` inclusive in steps of `step`, plus any `include`d values
    (then sorted, each once)."""

    from_: Expression = Field(alias="from")
    to: Expression
    step: Expression = 1
    include: list[Expression] = []


VariableValues = ValueRange | list[Expression] | Expression
"""One value (an expression), a list of values, or a range."""


class SampleSpec(Strict):
    seed: Expression
    count: Expression
    draw: dict[str, ValueRange]


class TrialSetSpec(Strict):
    """Which trials a set holds, as values of the trial variables.

    Exactly one source: `grid` (every combination, the first variable varying slowest, kept
    where `where` holds), `sample` (seeded uniform integer draws, one variable after the other)
    or `from_set` (another set's trials, e.g. the validation set run for longer). `trial_length`
    replaces the task's (it may use `max(variable)` over the set's trials).
    """

    grid: dict[str, VariableValues] | None = None
    sample: SampleSpec | None = None
    from_set: str | None = None
    where: str | None = None
    trial_length: Expression | None = None


class Period(Strict):
    """A named stretch of every trial: input values and targets held over its steps.

    Without `onset` it starts where the previous period ends (NeuroGym's timing dict).
    """

    name: Name
    onset: Expression | None = None
    duration: Expression
    inputs: dict[str, Expression] = {}
    targets: dict[str, Expression] = {}


class Constraint(Strict):
    """A condition the parameters must meet, and what to say when they do not."""

    require: str
    message: str | None = None


class EventSpec(Strict):
    """An input pulse the graph builder applies: channel values for `duration` steps."""

    edge_type: int
    duration: Expression
    inputs: dict[str, Expression]


class OutputLabel(Strict):
    """How a graph node's output becomes a discrete label: `sign` of the rounded output
    (-1, 0, +1), or `threshold`: 1 where the output is above `above`, else 0."""

    kind: Literal["sign", "threshold"]
    above: float = 0.5


class StartSegment(Strict):
    """Part of the input that leads from the zero state to the graph's start: `silent` steps
    of zero input, or one `event`."""

    silent: Expression | None = None
    event: str | None = None


class StimulusSpec(Strict):
    """An event applied on a lace at `at` (steps, `end`, `before_rise`); see
    atlas.tasks.graph_protocol.Stimulus."""

    event: str
    at: list[Expression]
    settle: Expression
    lace_steps: Expression | None = None
    then: list[StimulusSpec] = []
    unless_looping: bool = False


class GraphSpec(Strict):
    start: list[StartSegment] = []
    start_lace_steps: Expression | None = None
    stimuli: list[StimulusSpec]
    response_events: list[str]
    in_trial: bool = False


class WindowSpec(Strict):
    """Steps [start, stop) of the validation trials picked by `select` (every combination of
    the listed values, kept where `where` holds; each must be exactly one trial)."""

    select: dict[str, VariableValues]
    where: str | None = None
    start: Expression
    stop: Expression


FEATURE_WINDOWS: dict[str, tuple[str, ...]] = {
    "two_epochs": ("first", "second"),
    "delay_and_answers": ("delay", "answer"),
}
"""The paper's two feature sets and the window groups each measures."""


class FeatureSpec(Strict):
    """Which of the paper's feature sets to measure, on which windows of the validation trials.

    `two_epochs` (interval, reproduction): one `first` window (a wait) and several `second`
    windows (timing trajectories). `delay_and_answers` (delayed): several `delay` windows, in
    increasing stimulus order, and two `answer` windows (the two extreme answers).
    """

    kind: Literal["two_epochs", "delay_and_answers"]
    windows: dict[str, list[WindowSpec]]


class AccuracyBy(Strict):
    """Accuracy along one variable of a probe (say, delays far beyond training)."""

    probe: str
    variable: str
    trained: Expression


class DecisionSignature(Strict):
    """Decisions (the mean output over `response_period`, its sign against the target's)
    over a probe grid mapped on two `axes`, accuracy inside and outside the `trained` ranges,
    optionally by one variable, and behaviour long after the answer."""

    kind: Literal["decision"]
    probe: str
    long_run: str
    axes: tuple[str, str]
    response_period: str
    trained: dict[str, tuple[Expression, Expression]]
    accuracy_by: AccuracyBy | None = None


class ProducedIntervalSignature(Strict):
    """The produced interval tp (first output rise after `from_period` begins) against the
    `interval` variable over a probe, accuracy inside and outside the `trained` range, and
    behaviour long after the answer."""

    kind: Literal["produced_interval"]
    probe: str
    long_run: str
    interval: str
    from_period: str
    trained: tuple[Expression, Expression]


SignatureSpec = Annotated[
    DecisionSignature | ProducedIntervalSignature, Field(discriminator="kind")
]


class TaskDeclaration(Strict):
    """A trial task, declared as data. Field meanings: module docstring and docs/tasks.md."""

    name: Name
    long_name: str | None = None
    aliases: list[str] = []
    description: str = ""
    inputs: list[Name] = Field(min_length=1)
    outputs: list[Name] = Field(min_length=1)
    parameters: dict[Name, int | float] = {}
    constraints: list[Constraint] = []
    trial_length: Expression
    periods: list[Period] = Field(min_length=1)
    training: TrialSetSpec
    validation: TrialSetSpec
    probes: dict[Name, TrialSetSpec] = {}
    events: dict[Name, EventSpec] = {}
    output_label: OutputLabel = OutputLabel(kind="sign")
    graph: GraphSpec | None = None
    features: FeatureSpec | None = None
    signature: SignatureSpec | None = None
