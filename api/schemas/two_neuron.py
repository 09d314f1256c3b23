"""What `/tasks/two_neuron/regimes` returns: a two-neuron study's regime counts and maps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from api.deps import MAX_TEXT, PRINTABLE
from api.schemas.jobs import MAX_SEED, STRICT, ParameterValue
from api.schemas.solutions import UtcDatetime
from api.schemas.work import Eta, Fraction, RunSeconds, StatusField, WorkPage
from atlas.store import DEFAULT_STUDY_SIZE, MAX_STUDY_SIZE


class TwoNeuronTrainingIn(BaseModel):
    """Overrides of atlas.training.TwoNeuronTrainingConfig; unset fields keep its defaults."""

    model_config = STRICT

    max_steps: Annotated[int, Field(ge=1, le=100_000)] | None = None
    learning_rate: Annotated[float, Field(gt=0, le=10)] | None = None
    stop_loss: Annotated[float, Field(ge=0, le=1e6)] | None = None
    log_every: Annotated[int, Field(ge=1, le=100_000)] | None = None
    dtype: Literal["float32", "float64"] | None = None


class StudyIn(BaseModel):
    """Train `count` two-neuron networks seeded `seed, seed + 1, ...`, then classify each
    network's regime two ways and draw the regime maps."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [
                {"count": 10000, "seed": 0, "name": "paper"},
                {"count": 500, "seed": 7, "training": {"max_steps": 200}},
            ]
        },
    )

    count: int = Field(
        default=DEFAULT_STUDY_SIZE,
        ge=1,
        le=MAX_STUDY_SIZE,
        description=f"Networks to train (the paper: {DEFAULT_STUDY_SIZE}).",
    )
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="Seed of the first network.")
    task_parameters: dict[Annotated[str, Field(max_length=64)], ParameterValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Overrides of the two-neuron model's parameters (x0, target, t_final, ...).",
    )
    training: TwoNeuronTrainingIn = Field(
        default_factory=TwoNeuronTrainingIn,
        description="Overrides of atlas.training.TwoNeuronTrainingConfig (max_steps, ...).",
    )
    name: str | None = Field(default=None, max_length=MAX_TEXT, pattern=PRINTABLE)

    @field_serializer("training")
    def _only_given(self, training: TwoNeuronTrainingIn) -> dict[str, Any]:
        """The overrides the client gave, as the store takes them."""
        return training.model_dump(exclude_none=True)


class RegimeCountsOut(BaseModel):
    regimes_solved: dict[str, int] = Field(description="Solved networks (loss < 1e-4) by regime.")
    regimes_all: dict[str, int] = Field(description="All classified networks by regime.")


class RegimeMapOut(BaseModel):
    name: str
    url: str


class RegimesOut(BaseModel):
    study_id: int
    name: str | None
    status: StatusField
    n: int = Field(
        description="Networks stored: all of them once trained; for a cancelled or "
        "time-limited study, those that had finished training when it stopped."
    )
    solved: int = Field(description="Stored networks below the model's solved loss.")
    eigenvalue_rule: RegimeCountsOut = Field(
        description="Regimes of the final W by its eigenvalues: limit_cycle (complex, real "
        "part > 1), fixed_point (real, largest > 1), stable_origin (largest real part <= 1)."
    )
    dynamics: RegimeCountsOut = Field(
        description="Regimes from what the dynamics from x0 actually do (cycles and fixed "
        "points found); `undetermined` where neither settles."
    )
    agreement: float | None = Field(
        description="Share of networks classified both ways where the two agree."
    )
    maps: list[RegimeMapOut] = Field(description="Regime maps against the initial W, as PNG.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "study_id": 1,
                    "name": "paper",
                    "status": "succeeded",
                    "n": 10000,
                    "solved": 9120,
                    "eigenvalue_rule": {
                        "regimes_solved": {
                            "limit_cycle": 3010,
                            "fixed_point": 6110,
                            "stable_origin": 0,
                        },
                        "regimes_all": {
                            "limit_cycle": 3200,
                            "fixed_point": 6300,
                            "stable_origin": 500,
                        },
                    },
                    "dynamics": {
                        "regimes_solved": {
                            "limit_cycle": 3010,
                            "fixed_point": 6110,
                            "stable_origin": 0,
                            "undetermined": 0,
                        },
                        "regimes_all": {
                            "limit_cycle": 3190,
                            "fixed_point": 6305,
                            "stable_origin": 500,
                            "undetermined": 5,
                        },
                    },
                    "agreement": 0.999,
                    "maps": [
                        {
                            "name": "initial_trace_determinant",
                            "url": "/tasks/two_neuron/regimes/maps/initial_trace_determinant.png"
                            "?study=1",
                        }
                    ],
                }
            ]
        }
    }


class StudyProgress(BaseModel):
    """The study's counts after its last recorded training step: while it runs,
    `active + finished = count` and `solved <= finished`; once it has ended, none is active
    and the others are read from the networks stored, so they match `links.regimes`
    (`finished` is its `n`, `solved` its `solved`)."""

    step: int = Field(description="Training steps done (0 before it starts).")
    max_steps: int
    active: int = Field(
        description="Networks still training (0 before it starts and once it has ended: "
        "those a cancel or the time limit stopped mid-training are not kept)."
    )
    finished: int = Field(
        description="Networks done training: out of the batch at the stop loss, or at "
        "`max_steps`. They are stored when training ends or stops; a cancelled or "
        "time-limited study keeps them."
    )
    solved: int = Field(
        description="Finished networks whose final loss is below the model's solved loss "
        "(1e-4 by default); one below it but above the stop loss still trains, uncounted."
    )
    fraction: Fraction
    eta: Eta
    run_seconds: RunSeconds


class StudyOut(BaseModel):
    """A two-neuron study as a work item (`/studies/{id}`, like `/jobs/{id}`); its results
    are at `links.regimes`."""

    id: int
    name: str | None
    status: StatusField
    count: int
    seed: int
    task_parameters: dict[str, Any]
    training: dict[str, Any] = Field(description="The full training configuration used.")
    attempts: int
    error: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    progress: StudyProgress
    links: dict[str, str]


class StudyPage(WorkPage[StudyOut]):
    """Two-neuron studies, newest first."""
