"""`/jobs`: the population request a client submits and the job it can poll."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.solutions import Architecture, UtcDatetime

MAX_UNITS = 512
MAX_COUNT = 1024
MAX_SEED = 2_000_000_000


class JobIn(BaseModel):
    """Train `count` networks seeded `seed, seed + 1, ...` on `task` as one batched population."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "task": "delayed",
                    "architecture": "vanilla",
                    "units": 20,
                    "count": 8,
                    "seed": 0,
                    "task_parameters": {},
                    "training": {"max_epochs": 300},
                },
                {
                    "task": "reproduction",
                    "architecture": "gru",
                    "units": 30,
                    "count": 100,
                    "seed": 1000,
                    "task_parameters": {"ts_max": 60},
                    "training": {"max_epochs": 2000, "checkpoint_every": 25},
                },
            ]
        },
    )

    task: str = Field(description="A trial task (see /tasks): short name, long name or alias.")
    architecture: Architecture
    units: int = Field(ge=1, le=MAX_UNITS, description=f"Hidden units, 1..{MAX_UNITS}.")
    count: int = Field(ge=1, le=MAX_COUNT, description=f"Networks to train, 1..{MAX_COUNT}.")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="Seed of the first network.")
    task_parameters: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the task's parameters (see /tasks)."
    )
    training: dict[str, Any] = Field(
        default_factory=dict,
        description="Overrides of the training recipe (atlas.training.TrainingConfig fields).",
    )


class JobProgress(BaseModel):
    epoch: int
    max_epochs: int
    active: int = Field(description="Networks still training.")
    converged: int
    failed: int
    saved: int = Field(description="Networks stored in the atlas so far.")
    fraction: float = Field(description="Share of the job's networks stored, 0..1.")


class JobNetwork(BaseModel):
    id: int
    index: int | None
    seed: int | None
    status: str = Field(description="Training outcome: converged, failed or unfinished.")
    epochs: int | None
    best_loss: float | None
    validation_loss: float | None
    analysis_status: str
    links: dict[str, str]


class JobOut(BaseModel):
    id: int
    status: str = Field(description="queued, running, succeeded or failed.")
    task: str
    task_parameters: dict[str, Any]
    architecture: str
    units: int
    count: int
    seed: int
    training: dict[str, Any] = Field(description="The full training configuration used.")
    attempts: int
    error: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    progress: JobProgress
    networks: list[JobNetwork]
    links: dict[str, str]
