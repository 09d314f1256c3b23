"""`/charts`: the study a client asks for, and the chart it follows: progress per setting and
the solution types found, shared across the settings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from api.schemas.jobs import (
    MAX_COUNT,
    MAX_SEED,
    MAX_UNITS,
    STRICT,
    Loss,
    ParameterValue,
    TrainingIn,
)
from api.schemas.solutions import Architecture, UtcDatetime
from api.schemas.work import WorkPage
from atlas.store import ACCEPTANCE_LOSS, BUDGET_FACTOR, DEFAULT_CHUNK_SIZE, WorkStatus

MAX_SETTINGS = 16
MAX_BUDGET = 10 * MAX_COUNT


class SettingIn(BaseModel):
    model_config = STRICT

    architecture: Architecture
    units: int = Field(ge=1, le=MAX_UNITS, description=f"Hidden units, 1..{MAX_UNITS}.")


class AcceptanceIn(BaseModel):
    """When a trained network counts for the chart."""

    model_config = STRICT

    max_validation_loss: Loss = Field(
        default=ACCEPTANCE_LOSS,
        description="Accepted when the validation loss is below this (the paper: 2e-4).",
    )


class ChartIn(BaseModel):
    """Chart `task` over `settings`: train fresh seeds per setting until
    `networks_per_setting` networks are accepted, within `seed_budget` seeds per setting."""

    model_config = ConfigDict(
        **STRICT,
        json_schema_extra={
            "examples": [
                {
                    "task": "delayed",
                    "settings": [
                        {"architecture": "vanilla", "units": 20},
                        {"architecture": "vanilla", "units": 30},
                    ],
                    "networks_per_setting": 100,
                },
                {
                    "task": "delayed",
                    "task_parameters": {"f_max": 5, "delay_max": 2},
                    "settings": [{"architecture": "gru", "units": 8}],
                    "networks_per_setting": 4,
                    "seed_budget": 8,
                    "chunk_size": 4,
                    "training": {"max_epochs": 300, "learning_rate": 0.01},
                    "acceptance": {"max_validation_loss": 0.001},
                },
            ]
        },
    )

    task: str = Field(
        min_length=1, max_length=64, description="A trial task (see /tasks): name or alias."
    )
    task_parameters: dict[Annotated[str, Field(max_length=64)], ParameterValue] = Field(
        default_factory=dict, max_length=32, description="Overrides of the task's parameters."
    )
    settings: list[SettingIn] = Field(
        min_length=1,
        max_length=MAX_SETTINGS,
        description="The (architecture, units) pairs to chart, each at most once.",
    )
    networks_per_setting: int = Field(
        ge=1, le=MAX_COUNT, description="Accepted networks wanted per setting."
    )
    seed_budget: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BUDGET,
        description=f"Seeds a setting may train at most (default {BUDGET_FACTOR}x "
        "networks_per_setting); a setting that spends it ends short and says so.",
    )
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="Start of the chart's seeds.")
    chunk_size: int = Field(
        default=DEFAULT_CHUNK_SIZE,
        ge=1,
        le=MAX_COUNT,
        description="Networks per population chunk (one training job; workers take chunks "
        "in parallel).",
    )
    training: TrainingIn = Field(
        default_factory=TrainingIn, description="Overrides of the training recipe."
    )
    acceptance: AcceptanceIn = Field(default_factory=AcceptanceIn)

    @field_serializer("training")
    def _only_given(self, training: TrainingIn) -> dict[str, Any]:
        return training.model_dump(exclude_none=True)


class KappaOut(BaseModel):
    """How well neural features predict the types (random forest, the paper's protocol)."""

    networks: int = Field(description="Networks of common types with features.")
    types: int = Field(description="Common types with 2+ such networks.")
    splits: int
    mean: float | None = Field(description="Cohen's kappa over the held-out splits.")
    std: float | None
    reason: str | None = Field(description="Why there is no kappa, if there is none.")


class TypeShareOut(BaseModel):
    name: str
    count: int
    share: float = Field(description="Share of the group's typed networks.")
    rare: bool = Field(description="Rare over the whole chart (below its rare threshold).")
    link: str


class TypesOut(BaseModel):
    """The types of a group of typed networks (a setting, or the whole chart), largest
    first."""

    typed: int
    types: list[TypeShareOut]
    rare_share: float = Field(description="Share in the chart's rare types.")
    coverage: float = Field(description="Share in the chart's common types.")
    top_coverage: list[float] = Field(description="Share in the k largest types, k = 1, 2, ...")
    major_types: int = Field(description="Types holding 10% or more of the group.")
    kappa: KappaOut | None = Field(description="Null unless asked for with `kappa=true`.")


class SettingOut(BaseModel):
    architecture: str
    units: int
    state: str = Field(description="training, reached, short, cancelled or stopped.")
    note: str | None = Field(description="Why a setting ended short or stopped.")
    first_seed: int
    seeds_used: int = Field(
        description="Seeds given to training (a chunk that never ran, e.g. one that could not "
        "be queued, gives its seeds back)."
    )
    seed_budget: int
    trained: int = Field(description="Networks stored.")
    accepted: int
    failed: int = Field(description="Stored, not accepted.")
    analysed: int = Field(description="Accepted networks whose analyses are done.")
    typed: int = Field(description="Accepted networks with a solution type.")
    pending: int = Field(description="Seeds in chunks still training.")
    chunks: int
    types: TypesOut | None = None
    links: dict[str, str]


class ChartProgressOut(BaseModel):
    fraction: float = Field(description="Accepted networks over those asked for, 0..1.")
    trained: int
    accepted: int
    failed: int
    analysed: int


class ChartOut(BaseModel):
    id: int
    status: WorkStatus
    task: str
    task_parameters: dict[str, Any]
    variant: str = Field(description="The task variant whose types the chart's networks join.")
    networks_per_setting: int
    seed_budget: int
    seed: int
    chunk_size: int
    acceptance: dict[str, float]
    training: dict[str, Any]
    error: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    progress: ChartProgressOut
    settings: list[SettingOut]
    rare_threshold: float | None = None
    rare_types: list[str] | None = None
    overall: TypesOut | None = None
    links: dict[str, str]


class ChartPage(WorkPage[ChartOut]):
    """Charts, newest first."""
