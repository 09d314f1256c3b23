"""The atlas' SQL store: models, sessions, schema version and every write. Nothing else writes SQL.

One module per concept, each with its writers and readers: jobs, networks, snapshots,
analysis_runs, analyses and analysis_reads, solution_types, two_neuron and
two_neuron_reads, charts, task_records, datasets; queries, explorer_reads and chart_runs are
the API's, the explorer's and the chart command's reads; work_reads reads jobs and studies as
records (frozen dataclasses) in a transaction of its own, from the sessionmaker, and
work_writes submits and cancels them and charts so, admission (admission: the budget)
included; lifecycle and work_status are the work lifecycle; models the tables; database the
engines, sessions and `get_or_raise`; schema the migrations. The module list is the index; this
package exports what the other layers use.

Writers take a Session and flush; the caller commits (session_scope, or the worker's
worker.database.transaction), except those of work_writes, which own their transaction.
Commit a job, study or chart before enqueueing work on it: the worker reads it from the database.
A reader that looks a thing up by id raises NotFoundError (atlas.errors) when there is none;
a request that cannot be met raises an InvalidError or ConflictError subclass (JobSpecError,
OverBudgetError, AlreadyFinishedError, ...), which the API answers in one place.
"""

from atlas.store.admission import Budget
from atlas.store.analyses import (
    ConditionCycles,
    save_extrapolation,
    save_features,
    save_fixed_points,
    save_limit_cycles,
    save_reduced_graph,
)
from atlas.store.analysis_reads import (
    extrapolation_signature,
    feature_table,
    fixed_point_analysis,
    limit_cycles,
    network_features,
    reduced_graph,
)
from atlas.store.analysis_results import save_validation_result
from atlas.store.analysis_runs import (
    fail_step,
    finish_step,
    set_analysis_status,
    skip_step,
    start_step,
    step_done,
)
from atlas.store.charts import ChartRecord, ChartSpec, SettingSpec
from atlas.store.database import make_engine, session_factory, session_scope
from atlas.store.jobs import (
    JobSpec,
    fail_job,
    finish_job,
    record_progress,
    start_job_attempt,
    stop_job,
    unfinished_job_ids,
)
from atlas.store.lifecycle import StopReason
from atlas.store.networks import (
    load_population,
    network_state_dict,
    save_imported_network,
    save_trained_network,
    unanalysed_network_ids,
)
from atlas.store.schema import (
    SchemaOutOfDateError,
    check_database_current,
    check_schema_current,
    migrate,
)
from atlas.store.snapshots import save_training_snapshot, training_snapshot
from atlas.store.solution_types import (
    TypeSummary,
    TypeTable,
    VariantSummary,
    assign_solution_type,
    chosen_variant,
    network_solution_type,
    principal_variant,
    solution_type,
    type_members,
    type_table,
    type_variants,
)
from atlas.store.two_neuron import (
    fail_study,
    finish_study,
    record_study_progress,
    save_regime_maps,
    save_study_outcome,
    set_two_neuron_regimes,
    start_study_attempt,
    stop_study,
    study_setup,
    study_weights,
    unfinished_study_ids,
)
from atlas.store.two_neuron_reads import RegimeSummary, two_neuron_regime_summary
from atlas.store.work_status import WorkStatus
from atlas.store.work_writes import (
    ChartSubmission,
    cancel_chart,
    cancel_job,
    cancel_study,
    fail_submitted_chart,
    fail_submitted_job,
    fail_submitted_study,
    submit_chart,
    submit_job,
    submit_study,
)

__all__ = [
    "Budget",
    "ChartRecord",
    "ChartSpec",
    "ChartSubmission",
    "ConditionCycles",
    "JobSpec",
    "RegimeSummary",
    "SchemaOutOfDateError",
    "SettingSpec",
    "StopReason",
    "TypeSummary",
    "TypeTable",
    "VariantSummary",
    "WorkStatus",
    "assign_solution_type",
    "cancel_chart",
    "cancel_job",
    "cancel_study",
    "check_database_current",
    "check_schema_current",
    "chosen_variant",
    "extrapolation_signature",
    "fail_job",
    "fail_step",
    "fail_study",
    "fail_submitted_chart",
    "fail_submitted_job",
    "fail_submitted_study",
    "feature_table",
    "finish_job",
    "finish_step",
    "finish_study",
    "fixed_point_analysis",
    "limit_cycles",
    "load_population",
    "make_engine",
    "migrate",
    "network_features",
    "network_solution_type",
    "network_state_dict",
    "principal_variant",
    "record_progress",
    "record_study_progress",
    "reduced_graph",
    "save_extrapolation",
    "save_features",
    "save_fixed_points",
    "save_imported_network",
    "save_limit_cycles",
    "save_reduced_graph",
    "save_regime_maps",
    "save_study_outcome",
    "save_trained_network",
    "save_training_snapshot",
    "save_validation_result",
    "session_factory",
    "session_scope",
    "set_analysis_status",
    "set_two_neuron_regimes",
    "skip_step",
    "solution_type",
    "start_job_attempt",
    "start_step",
    "start_study_attempt",
    "step_done",
    "stop_job",
    "stop_study",
    "study_setup",
    "study_weights",
    "submit_chart",
    "submit_job",
    "submit_study",
    "training_snapshot",
    "two_neuron_regime_summary",
    "type_members",
    "type_table",
    "type_variants",
    "unanalysed_network_ids",
    "unfinished_job_ids",
    "unfinished_study_ids",
]
