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
    finish_job(session, job_id) / fail_job(session, job_id, error) / requeue_job(session, job_id)
    unfinished_job_ids(session) / unanalysed_network_ids(session) -> list[int]
    save_trained_network(session, job, outcome: NetworkOutcome) -> Network   (idempotent)
    save_imported_network(session, task, state_dict, validation_loss, *, name=None, info=None)
    network_state_dict(session, network_id, kind="final") -> dict[str, Tensor]
    load_population(session, network_ids, kind="final") -> RNNPopulation
    start_step / finish_step / fail_step(session, network_id, step[, error]); step_succeeded(...)
    set_analysis_status(session, network_id, status)
    replace_rows(session, Model, network_id, rows); save_validation_result(...)
    save_two_neuron_study(session, task, config, outcome, *, name=None) -> TwoNeuronStudy
    set_two_neuron_regimes(session, study_id, regimes)

Arrays: atlas.store.arrays (to_blob / from_blob for one array, arrays_to_blob /
arrays_from_blob for named arrays, state_dict_from_blob for weights). Models: atlas.store.models.
Analysis steps (worker/steps.py) save their rows with replace_rows and the models of
atlas.store.models.analysis (FixedPoint, LimitCycle, ExtrapolationSignature, ReducedGraph,
Features), so a re-run replaces them.
"""

from atlas.store.analysis_results import replace_rows, save_validation_result
from atlas.store.analysis_runs import (
    fail_step,
    finish_step,
    set_analysis_status,
    start_step,
    step_succeeded,
)
from atlas.store.database import make_engine, session_factory, session_scope
from atlas.store.jobs import (
    JobSpec,
    JobSpecError,
    create_job,
    fail_job,
    finish_job,
    mark_job_running,
    record_progress,
    requeue_job,
    unfinished_job_ids,
)
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
from atlas.store.two_neuron import save_two_neuron_study, set_two_neuron_regimes

__all__ = [
    "JobSpec",
    "JobSpecError",
    "SchemaOutOfDateError",
    "check_database_current",
    "check_schema_current",
    "create_job",
    "fail_job",
    "fail_step",
    "finish_job",
    "finish_step",
    "load_population",
    "make_engine",
    "mark_job_running",
    "migrate",
    "network_state_dict",
    "record_progress",
    "replace_rows",
    "requeue_job",
    "save_imported_network",
    "save_trained_network",
    "save_two_neuron_study",
    "save_validation_result",
    "session_factory",
    "session_scope",
    "set_analysis_status",
    "set_two_neuron_regimes",
    "start_step",
    "step_succeeded",
    "trained_network",
    "unanalysed_network_ids",
    "unfinished_job_ids",
]
