"""The atlas' SQL store: models, sessions, schema version and every write. Nothing else writes SQL.

One module per concept, each with its writers and readers: jobs, networks, snapshots,
analysis_runs, analyses and analysis_reads, solution_types, two_neuron and
two_neuron_reads, charts, task_records, datasets; queries, explorer_reads and chart_runs are
the API's, the explorer's and the chart command's reads; work_reads reads jobs and studies as
records (frozen dataclasses) in a transaction of its own, from the sessionmaker, and
work_writes submits and cancels them and charts so, admission (admission: the budget)
included; lifecycle and work_status are the work lifecycle; models the tables; database the
engines, sessions and `get_or_raise`; schema the migrations.

This package is the store's interface: the API, the worker and the CLI import from
`atlas.store` alone, never from its modules (an import-linter contract), and get records
(frozen dataclasses: SolutionRecord, JobAttempt, CheckpointRecord, ...) rather than rows of
the tables.

Writers take a Session and flush; the caller commits (session_scope, or the worker's
worker.database.transaction), except those of work_writes and uploads, which own their
transaction. The API reads through `reading`: a session that is rolled back at the end and
refuses to flush a change, so no request writes except through a store writer.
Commit a job, study or chart before enqueueing work on it: the worker reads it from the database.
A reader that looks a thing up by id raises NotFoundError (atlas.errors) when there is none;
a request that cannot be met raises an InvalidError or ConflictError subclass (JobSpecError,
OverBudgetError, AlreadyFinishedError, ...), which the API answers in one place.
"""

from atlas.store.admission import Budget
from atlas.store.analyses import (
    ConditionCycles,
    json_number,
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
    analysis_unavailable,
    fail_step,
    finish_step,
    set_analysis_status,
    skip_step,
    start_step,
    step_done,
)
from atlas.store.arrays import state_dict_from_blob
from atlas.store.chart_runs import chart_from_runs
from atlas.store.charts import (
    ACCEPTANCE_LOSS,
    BUDGET_FACTOR,
    DEFAULT_CHUNK_SIZE,
    ChartRecord,
    ChartResult,
    ChartSpec,
    ChartSpecError,
    SettingSpec,
    advance_chart,
    chart_networks,
    chart_of_job,
    chart_record,
    chart_result,
    list_charts,
    unfinished_chart_ids,
)
from atlas.store.database import (
    ReadOnlySessionError,
    make_engine,
    reading,
    session_factory,
    session_scope,
)
from atlas.store.datasets import chart_export, export_dataset, import_dataset, selected_network_ids
from atlas.store.explorer_reads import TaskCounts, member_spread, recent_work, task_counts
from atlas.store.jobs import (
    JobAttempt,
    JobSpec,
    begin_job_attempt,
    fail_job,
    finish_job,
    job_status,
    record_progress,
    start_job_attempt,
    stop_job,
    unfinished_job_ids,
)
from atlas.store.lifecycle import StopReason
from atlas.store.networks import (
    load_population,
    lock_network,
    network_state_dict,
    save_imported_network,
    save_job_network,
    save_trained_network,
    unanalysed_network_ids,
)
from atlas.store.queries import (
    CheckpointRecord,
    ListedSolution,
    SolutionFilters,
    SolutionRecord,
    StepRunRecord,
    checkpoint_summaries,
    checkpoint_weights,
    get_solution,
    list_solutions,
    solution_task,
    sort_value,
    step_runs,
)
from atlas.store.schema import (
    SchemaOutOfDateError,
    check_database_current,
    check_schema_current,
    migrate,
)
from atlas.store.snapshots import (
    load_snapshot,
    save_snapshot,
    save_training_snapshot,
)
from atlas.store.solution_types import (
    SolutionTypeRecord,
    TypeMemberRecord,
    TypeSummary,
    TypeTable,
    VariantSummary,
    assign_solution_type,
    chosen_variant,
    network_solution_type,
    principal_variant,
    solution_type,
    solution_type_by_name,
    type_members,
    type_table,
    type_variants,
)
from atlas.store.task_records import (
    TaskNameTaken,
    add_declaration,
    all_tasks,
    resolve_task,
    task_name,
)
from atlas.store.two_neuron import (
    DEFAULT_STUDY_SIZE,
    MAX_STUDY_SIZE,
    StudyAttempt,
    begin_study_attempt,
    fail_study,
    finish_study,
    record_study_progress,
    save_regime_maps,
    save_study_outcome,
    set_two_neuron_regimes,
    stop_study,
    study_setup,
    study_status,
    study_weights,
    unfinished_study_ids,
)
from atlas.store.two_neuron_reads import RegimeSummary, two_neuron_regime_summary
from atlas.store.uploads import add_dataset, declare_task, fail_unqueued_analysis, import_network
from atlas.store.work_reads import JobRecord, StudyRecord, job_record, study_record
from atlas.store.work_status import FINISHED, UNFINISHED, WorkStatus
from atlas.store.work_writes import (
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
    "ACCEPTANCE_LOSS",
    "BUDGET_FACTOR",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_STUDY_SIZE",
    "FINISHED",
    "MAX_STUDY_SIZE",
    "UNFINISHED",
    "Budget",
    "ChartRecord",
    "ChartResult",
    "ChartSpec",
    "ChartSpecError",
    "CheckpointRecord",
    "ConditionCycles",
    "JobAttempt",
    "JobRecord",
    "JobSpec",
    "ListedSolution",
    "ReadOnlySessionError",
    "RegimeSummary",
    "SchemaOutOfDateError",
    "SettingSpec",
    "SolutionFilters",
    "SolutionRecord",
    "SolutionTypeRecord",
    "StepRunRecord",
    "StopReason",
    "StudyAttempt",
    "StudyRecord",
    "TaskCounts",
    "TaskNameTaken",
    "TypeMemberRecord",
    "TypeSummary",
    "TypeTable",
    "VariantSummary",
    "WorkStatus",
    "add_dataset",
    "add_declaration",
    "advance_chart",
    "all_tasks",
    "analysis_unavailable",
    "assign_solution_type",
    "begin_job_attempt",
    "begin_study_attempt",
    "cancel_chart",
    "cancel_job",
    "cancel_study",
    "chart_export",
    "chart_from_runs",
    "chart_networks",
    "chart_of_job",
    "chart_record",
    "chart_result",
    "check_database_current",
    "check_schema_current",
    "checkpoint_summaries",
    "checkpoint_weights",
    "chosen_variant",
    "declare_task",
    "export_dataset",
    "extrapolation_signature",
    "fail_job",
    "fail_step",
    "fail_study",
    "fail_submitted_chart",
    "fail_submitted_job",
    "fail_submitted_study",
    "fail_unqueued_analysis",
    "feature_table",
    "finish_job",
    "finish_step",
    "finish_study",
    "fixed_point_analysis",
    "get_solution",
    "import_dataset",
    "import_network",
    "job_record",
    "job_status",
    "json_number",
    "limit_cycles",
    "list_charts",
    "list_solutions",
    "load_population",
    "load_snapshot",
    "lock_network",
    "make_engine",
    "member_spread",
    "migrate",
    "network_features",
    "network_solution_type",
    "network_state_dict",
    "principal_variant",
    "reading",
    "recent_work",
    "record_progress",
    "record_study_progress",
    "reduced_graph",
    "resolve_task",
    "save_extrapolation",
    "save_features",
    "save_fixed_points",
    "save_imported_network",
    "save_job_network",
    "save_limit_cycles",
    "save_reduced_graph",
    "save_regime_maps",
    "save_snapshot",
    "save_study_outcome",
    "save_trained_network",
    "save_training_snapshot",
    "save_validation_result",
    "selected_network_ids",
    "session_factory",
    "session_scope",
    "set_analysis_status",
    "set_two_neuron_regimes",
    "skip_step",
    "solution_task",
    "solution_type",
    "solution_type_by_name",
    "sort_value",
    "start_job_attempt",
    "start_step",
    "state_dict_from_blob",
    "step_done",
    "step_runs",
    "stop_job",
    "stop_study",
    "study_record",
    "study_setup",
    "study_status",
    "study_weights",
    "submit_chart",
    "submit_job",
    "submit_study",
    "task_counts",
    "task_name",
    "two_neuron_regime_summary",
    "type_members",
    "type_table",
    "type_variants",
    "unanalysed_network_ids",
    "unfinished_chart_ids",
    "unfinished_job_ids",
    "unfinished_study_ids",
]
