"""`/jobs`: the population request a client submits and the job it can poll."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from api.schemas.solutions import Architecture, NetworkStatus, UtcDatetime
from api.schemas.work import Eta, Fraction, RunSeconds, StatusField, WorkPage
from atlas.analysis_status import AnalysisStatus

MAX_UNITS = 512
MAX_COUNT = 1024
MAX_SEED = 2_000_000_000
MAX_EPOCHS = 100_000
MAX_BATCH = 4096
#: Task parameters are sizes, times and amplitudes: none needs more than this magnitude.
MAX_PARAMETER = 1_000_000

#: Strict: JSON numbers only (no booleans, no strings), finite, and within bounds.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Epochs = Annotated[int, Field(ge=1, le=MAX_EPOCHS)]
Rate = Annotated[float, Field(gt=0, le=1)]
Loss = Annotated[float, Field(gt=0, le=1e6)]
ParameterNumber = (
    Annotated[int, Field(strict=True, ge=-MAX_PARAMETER, le=MAX_PARAMETER)]
    | Annotated[float, Field(strict=True, ge=-MAX_PARAMETER, le=MAX_PARAMETER, allow_inf_nan=False)]
)
ParameterValue = ParameterNumber | Annotated[list[ParameterNumber], Field(max_length=16)]


class TrainingIn(BaseModel):
    """Overrides of the training recipe (atlas.training.TrainingConfig); unset fields keep the
    recipe's defaults. Bounded so that no value can make the job meaningless; the job's
    memory and work are then checked against the server's budget as a whole."""

    model_config = STRICT

    max_epochs: Epochs | None = None
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH)] | None = None
    learning_rate: Rate | None = None
    second_phase_learning_rate: Rate | None = None
    success_loss: Loss | None = None
    failure_loss: Loss | None = None
    stall_patience: Epochs | None = None
    plateau_factor: Annotated[float, Field(gt=0, lt=1)] | None = None
    plateau_patience: Epochs | None = None
    checkpoint_every: Annotated[int, Field(ge=0, le=MAX_EPOCHS)] | None = Field(
        default=None, description="Epochs between checkpoints; 0: none in between."
    )
    device: Literal["auto", "cpu", "cuda"] | None = Field(
        default=None, description="`cuda` is refused (422) where the server has no GPU."
    )
    min_improvement: Annotated[float, Field(ge=0, lt=1)] | None = None
    second_phase_loss: Loss | None = None
    min_learning_rate: Rate | None = None
    dtype: Literal["float32", "float64"] | None = None
    resume_every: Annotated[int, Field(ge=0, le=MAX_EPOCHS)] | None = Field(
        default=None, description="Epochs between snapshots a restarted job resumes from."
    )
    initialisation: Literal["scaled", "pytorch"] | None = Field(
        default=None,
        description="First weights: `scaled` (PyTorch's default / sqrt(units), the recipe) "
        "or `pytorch` (PyTorch's default, as the paper's reproduction vanilla networks began).",
    )
    epoch_loss: Literal["minibatches", "training_set"] | None = Field(
        default=None,
        description="The loss the recipe judges after each epoch: `minibatches`, the mean of "
        "the epoch's minibatch losses (the paper's trainer), or `training_set`, the whole "
        "training set under the epoch's last weights (one more pass).",
    )
    cuda_graphs: bool | None = Field(
        default=None,
        description="On a GPU, record the training step once as a CUDA graph and replay it "
        "for each minibatch (the same kernels, launched at once); ignored on the CPU.",
    )


class JobIn(BaseModel):
    """Train `count` networks seeded `seed, seed + 1, ...` on `task` as one batched population."""

    model_config = ConfigDict(
        **STRICT,
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

    task: str = Field(
        min_length=1,
        max_length=64,
        description="A trial task (see /tasks): short name, long name or alias.",
    )
    architecture: Architecture
    units: int = Field(ge=1, le=MAX_UNITS, description=f"Hidden units, 1..{MAX_UNITS}.")
    count: int = Field(ge=1, le=MAX_COUNT, description=f"Networks to train, 1..{MAX_COUNT}.")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="Seed of the first network.")
    task_parameters: dict[Annotated[str, Field(max_length=64)], ParameterValue] = Field(
        default_factory=dict,
        max_length=32,
        description="Overrides of the task's parameters (see /tasks).",
    )
    training: TrainingIn = Field(
        default_factory=TrainingIn,
        description="Overrides of the training recipe (atlas.training.TrainingConfig fields).",
    )

    @field_serializer("training")
    def _only_given(self, training: TrainingIn) -> dict[str, Any]:
        """The overrides the client gave, as the store's JobSpec takes them."""
        return training.model_dump(exclude_none=True)


class JobProgress(BaseModel):
    epoch: int
    max_epochs: int
    active: int = Field(description="Networks still training.")
    converged: int
    failed: int
    saved: int = Field(description="Networks stored in the atlas so far (finished).")
    fraction: Fraction
    eta: Eta
    run_seconds: RunSeconds


class JobNetwork(BaseModel):
    id: int
    index: int | None
    seed: int | None
    status: NetworkStatus = Field(description="Training outcome: converged, failed or unfinished.")
    epochs: int | None
    best_loss: float | None
    validation_loss: float | None
    analysis_status: AnalysisStatus
    links: dict[str, str]


class JobSummaryOut(BaseModel):
    """A job as listed: what was asked, its lifecycle and progress; not its networks."""

    id: int
    status: StatusField
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
    links: dict[str, str]


class JobOut(JobSummaryOut):
    """A job and the networks it has stored so far, in seed order."""

    networks: list[JobNetwork]


class JobPage(WorkPage[JobSummaryOut]):
    """Jobs, newest first."""
