"""The atlas' tables as SQLAlchemy 2 models; the schema itself is made by Alembic migrations."""

from atlas.store.models.analysis import (
    AnalysisRun,
    ExtrapolationSignature,
    Features,
    FixedPoint,
    LimitCycleRow,
    ReducedGraphRow,
    ValidationResult,
)
from atlas.store.models.base import Base
from atlas.store.models.chart import Chart, ChartChunk, ChartSetting
from atlas.store.models.job import JOB_STATUSES, Job
from atlas.store.models.network import (
    ANALYSIS_STATUSES,
    CHECKPOINT_KINDS,
    NETWORK_SOURCES,
    NETWORK_STATUSES,
    CheckpointRow,
    Network,
)
from atlas.store.models.solution_type import SolutionType
from atlas.store.models.task import TaskDeclarationRow, TaskRecord
from atlas.store.models.two_neuron import (
    DYNAMIC_REGIMES,
    STUDY_STATUSES,
    TWO_NEURON_REGIMES,
    TwoNeuronMap,
    TwoNeuronNetwork,
    TwoNeuronStudyRow,
)

__all__ = [
    "ANALYSIS_STATUSES",
    "CHECKPOINT_KINDS",
    "DYNAMIC_REGIMES",
    "JOB_STATUSES",
    "NETWORK_SOURCES",
    "NETWORK_STATUSES",
    "STUDY_STATUSES",
    "TWO_NEURON_REGIMES",
    "AnalysisRun",
    "Base",
    "Chart",
    "ChartChunk",
    "ChartSetting",
    "CheckpointRow",
    "ExtrapolationSignature",
    "Features",
    "FixedPoint",
    "Job",
    "LimitCycleRow",
    "Network",
    "ReducedGraphRow",
    "SolutionType",
    "TaskDeclarationRow",
    "TaskRecord",
    "TwoNeuronMap",
    "TwoNeuronNetwork",
    "TwoNeuronStudyRow",
    "ValidationResult",
]
