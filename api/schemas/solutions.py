"""What `/solutions` returns: listing rows, one solution's detail, its checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from atlas.analysis_status import AnalysisStatus, RunStatus
from atlas.network_status import STATUSES

SortKey = Literal["created_at", "validation_loss", "units"]
SortOrder = Literal["asc", "desc"]
Architecture = Literal["vanilla", "gru", "lstm"]
NetworkStatus = Literal[STATUSES]  # atlas.training.NetworkStatus
NetworkSource = Literal["trained", "imported"]
StepStatus = RunStatus | Literal[AnalysisStatus.PENDING]
"""A step's state: `pending` (the network's word) until it has a run, then the run's."""
#: SQLite hands back naive datetimes; every stored time is UTC, so say so in the response.
UtcDatetime = Annotated[
    datetime, AfterValidator(lambda t: t if t.tzinfo else t.replace(tzinfo=UTC))
]


class SolutionSummary(BaseModel):
    id: int
    task: str
    architecture: str
    units: int
    source: str = Field(description="`trained` by the atlas or `imported` from a state dict.")
    name: str | None = Field(description="A name given on import, if any.")
    status: NetworkStatus = Field(description="`converged`, `failed` or `unfinished` training.")
    analysis_status: AnalysisStatus = Field(
        description="`pending`, `running`, `done` (every step succeeded or was skipped) or "
        "`failed`."
    )
    solution_type: str | None = Field(description="The type's name once the graph is analysed.")
    seed: int | None
    job_id: int | None
    epochs: int | None
    best_loss: float | None = Field(description="Best training-set MSE.")
    validation_loss: float | None = Field(description="Validation-set MSE of the final weights.")
    created_at: UtcDatetime
    links: dict[str, str]


class SolutionPage(BaseModel):
    items: list[SolutionSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; null at the end."
    )
    next: str | None = Field(description="The next page's URL; null at the end.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "items": [
                        {
                            "id": 42,
                            "task": "delayed",
                            "architecture": "vanilla",
                            "units": 20,
                            "source": "trained",
                            "name": None,
                            "status": "converged",
                            "analysis_status": "done",
                            "solution_type": "delayed-3",
                            "seed": 7,
                            "job_id": 3,
                            "epochs": 412,
                            "best_loss": 1.8e-05,
                            "validation_loss": 2.4e-05,
                            "created_at": "2026-11-28T01:00:00Z",
                            "links": {
                                "self": "/solutions/42",
                                "weights": "/solutions/42/weights",
                            },
                        }
                    ],
                    "next_cursor": "eyJhZnRlciI6...",
                    "next": "/solutions?task=delayed&cursor=eyJhZnRlciI6...",
                }
            ]
        }
    }


class AnalysisState(BaseModel):
    step: str
    status: StepStatus = Field(
        description="`pending` until the step has run, then `running`, `succeeded`, `failed` "
        "or `skipped` (it does not apply)."
    )
    attempts: int
    error: str | None
    finished_at: UtcDatetime | None


class SolutionDetail(SolutionSummary):
    task_parameters: dict[str, Any] = Field(description="The task parameters it was trained on.")
    n_inputs: int
    n_outputs: int
    index_in_job: int | None
    steps: int | None = Field(description="Optimiser steps taken.")
    final_loss: float | None = Field(description="Training-set MSE of the last epoch.")
    loss_curve: list[float] | None = Field(description="Training-set MSE after every epoch.")
    info: dict[str, Any]
    code_version: str
    analyses: list[AnalysisState]


class CheckpointOut(BaseModel):
    id: int
    kind: str = Field(description="`initial`, `intermediate` or `final`.")
    epoch: int
    loss: float | None
    weights: str = Field(description="URL of this checkpoint's state dict (torch.save format).")
