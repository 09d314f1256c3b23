"""The atlas' SQL store: models, sessions, schema version and every write. Nothing else writes SQL.

Public functions (the API's read queries live in atlas/store/queries.py, owned by the API).
Writers take a Session and flush; the caller commits (session_scope). Commit a job or network
before enqueueing work on it (worker.dispatch): the task reads it from the database.

    make_engine(url) -> Engine                     SQLite (WAL, FKs, busy timeout) or PostgreSQL
    session_factory(engine) -> sessionmaker        expire_on_commit=False
    session_scope(factory) -> context manager      commit on success, roll back on error
    check_schema_current(engine) -> None           raises SchemaOutOfDateError (says: run migrate)
    check_database_current(database_url) -> None   the same on a short-lived engine
    migrate(database_url, revision="head") -> str | None

    create_job(session, spec: JobSpec, idempotency_key=None) -> (Job, created: bool)
        raises JobSpecError (a ValueError) for an unknown task, architecture, bad sizes/options
    mark_job_running(session, job_id) / record_progress(session, job_id, progress)
    start_job_attempt(session, job_id, max_attempts) -> bool   (False: nothing to run)
    finish_job(session, job_id) / fail_job(session, job_id, error) / requeue_job(session, job_id)
    cancel_job(session, job_id) / stop_job(session, job_id, reason: StopReason, detail)
        the work lifecycle: atlas.store.work_status (WorkStatus), atlas.store.lifecycle
    save_training_snapshot(session, job_id, epoch, arrays) / training_snapshot(session, job_id)
    delete_training_snapshot(session, job_id)      (arrays from atlas.training.snapshot)
    atlas.store.snapshots: save_snapshot / load_snapshot / delete_snapshot(session, kind, id)
        for kind "job" or "study" (two-neuron studies resume from theirs too)
    unfinished_job_ids(session) / unanalysed_network_ids(session) -> list[int]
    save_trained_network(session, job, outcome: NetworkOutcome) -> Network   (idempotent)
    save_imported_network(session, task, state_dict, validation_loss, *, name=None, info=None)
    network_state_dict(session, network_id, kind="final") -> dict[str, Tensor]
    load_population(session, network_ids, kind="final") -> RNNPopulation
    start_step(session, network_id, step); fail_step(session, network_id, step, error)
    finish_step(session, network_id, step, summary=None, duration_s=None)
    skip_step(session, network_id, step, reason); step_succeeded / step_done(...) -> bool
    set_analysis_status(session, network_id, status)
    replace_rows(session, Model, network_id, rows); save_validation_result(...)

Analyses (atlas.store.analyses writes, atlas.store.analysis_reads reads them back as the
science's result objects, None while not analysed):
    save_fixed_points / save_limit_cycles / save_extrapolation / save_reduced_graph /
    save_features(session, network_id, result...) -> summary dict
    fixed_point_analysis(session, network_id) -> FixedPointAnalysis | None
    limit_cycles(session, network_id) -> list[ConditionCycles] | None
    extrapolation_signature(session, network_id) -> Signature | None
    reduced_graph(session, network_id) -> GraphRecord | None
    network_features(session, network_id) -> dict[str, float] | None
    feature_table(session, task, architecture=None, variant=None) -> FeatureTable | None

Solution types (atlas.store.solution_types):
    assign_solution_type(session, network_id, compact_graph) -> SolutionType  (per-task lock)
    clear_solution_type(session, network_id)
    type_table(session, task, variant='default') -> TypeTable (types, counts, coverage)
    type_variants(session, task) -> list[VariantSummary] (the parameter sets with types)
    principal_variant(variants) -> str (shown when none is asked for)
    solution_type(session, type_id) / solution_type_by_name(session, task, name)
    type_members(session, type_id, *, after_id=0, limit=None) -> list[Network]
    network_solution_type(session, network_id) -> SolutionType | None

Two-neuron studies (atlas.store.two_neuron writes, atlas.store.two_neuron_reads reads):
    create_two_neuron_study(session, count=10_000, *, seed=0, task_parameters=None,
                            training=None, name=None) -> TwoNeuronStudyRow   (StudySpecError)
    start_study_attempt(session, study_id, max_attempts) -> bool
    record_study_progress / finish_study / fail_study / requeue_study / cancel_study / stop_study
    save_study_outcome(session, study_id, outcome); study_weights(session, study_id)
    save_two_neuron_study(session, model, config, outcome, *, name=None) -> TwoNeuronStudyRow
    set_two_neuron_regimes(session, study_id, regimes, dynamic=None)
    save_regime_maps(session, study_id, {name: png_bytes})
    two_neuron_regime_summary(session, study_id=None) -> RegimeSummary | None

Arrays: atlas.store.arrays (to_blob / from_blob for one array, arrays_to_blob /
arrays_from_blob for named arrays, state_dict_from_blob for weights). Models: atlas.store.models.
Analysis steps (worker/steps.py) save their rows through these writers, each built on
replace_rows, so a re-run replaces them.
"""

from atlas.store.analyses import (
    ConditionCycles,
    save_extrapolation,
    save_features,
    save_fixed_points,
    save_limit_cycles,
    save_reduced_graph,
)
from atlas.store.analysis_reads import (
    FeatureTable,
    GraphRecord,
    extrapolation_signature,
    feature_table,
    fixed_point_analysis,
    limit_cycles,
    network_features,
    reduced_graph,
)
from atlas.store.analysis_results import replace_rows, save_validation_result
from atlas.store.analysis_runs import (
    fail_step,
    finish_step,
    set_analysis_status,
    skip_step,
    start_step,
    step_done,
    step_succeeded,
)
from atlas.store.database import make_engine, session_factory, session_scope
from atlas.store.jobs import (
    JobSpec,
    JobSpecError,
    cancel_job,
    create_job,
    fail_job,
    finish_job,
    mark_job_running,
    record_progress,
    requeue_job,
    start_job_attempt,
    stop_job,
    unfinished_job_ids,
)
from atlas.store.lifecycle import AlreadyFinishedError, StopReason
from atlas.store.networks import (
    load_population,
    network_state_dict,
    save_imported_network,
    save_trained_network,
    trained_network,
    unanalysed_network_ids,
)
from atlas.store.schema import (
    SchemaOutOfDateError,
    check_database_current,
    check_schema_current,
    migrate,
)
from atlas.store.snapshots import (
    delete_training_snapshot,
    save_training_snapshot,
    training_snapshot,
)
from atlas.store.solution_types import (
    TypeSummary,
    TypeTable,
    VariantSummary,
    assign_solution_type,
    clear_solution_type,
    network_solution_type,
    principal_variant,
    solution_type,
    solution_type_by_name,
    type_members,
    type_table,
    type_variants,
)
from atlas.store.two_neuron import (
    DEFAULT_STUDY_SIZE,
    StudySpecError,
    StudyWeights,
    cancel_study,
    create_two_neuron_study,
    fail_study,
    finish_study,
    record_study_progress,
    requeue_study,
    save_regime_maps,
    save_study_outcome,
    save_two_neuron_study,
    set_two_neuron_regimes,
    start_study_attempt,
    stop_study,
    study_setup,
    study_weights,
    unfinished_study_ids,
)
from atlas.store.two_neuron_reads import RegimeCounts, RegimeSummary, two_neuron_regime_summary
from atlas.store.work_status import WorkStatus

__all__ = [
    "DEFAULT_STUDY_SIZE",
    "AlreadyFinishedError",
    "ConditionCycles",
    "FeatureTable",
    "GraphRecord",
    "JobSpec",
    "JobSpecError",
    "RegimeCounts",
    "RegimeSummary",
    "SchemaOutOfDateError",
    "StopReason",
    "StudySpecError",
    "StudyWeights",
    "TypeSummary",
    "TypeTable",
    "VariantSummary",
    "WorkStatus",
    "assign_solution_type",
    "cancel_job",
    "cancel_study",
    "check_database_current",
    "check_schema_current",
    "clear_solution_type",
    "create_job",
    "create_two_neuron_study",
    "delete_training_snapshot",
    "extrapolation_signature",
    "fail_job",
    "fail_step",
    "fail_study",
    "feature_table",
    "finish_job",
    "finish_step",
    "finish_study",
    "fixed_point_analysis",
    "limit_cycles",
    "load_population",
    "make_engine",
    "mark_job_running",
    "migrate",
    "network_features",
    "network_solution_type",
    "network_state_dict",
    "principal_variant",
    "record_progress",
    "record_study_progress",
    "reduced_graph",
    "replace_rows",
    "requeue_job",
    "requeue_study",
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
    "save_two_neuron_study",
    "save_validation_result",
    "session_factory",
    "session_scope",
    "set_analysis_status",
    "set_two_neuron_regimes",
    "skip_step",
    "solution_type",
    "solution_type_by_name",
    "start_job_attempt",
    "start_step",
    "start_study_attempt",
    "step_done",
    "step_succeeded",
    "stop_job",
    "stop_study",
    "study_setup",
    "study_weights",
    "trained_network",
    "training_snapshot",
    "two_neuron_regime_summary",
    "type_members",
    "type_table",
    "type_variants",
    "unanalysed_network_ids",
    "unfinished_job_ids",
    "unfinished_study_ids",
]
