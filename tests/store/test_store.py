"""The SQL store on SQLite and on the real PostgreSQL: blobs, jobs, networks, analysis rows."""

from __future__ import annotations

import dataclasses
import io
import threading
from datetime import timedelta

import numpy as np
import pytest
import torch
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from throwaway_databases import BACKENDS, database

from atlas.config import Settings
from atlas.datasets import network_key
from atlas.errors import NotFoundError
from atlas.networks import from_state_dicts
from atlas.store import (
    Budget,
    ChartRecord,
    ChartSpec,
    JobAttempt,
    JobSpec,
    ReadOnlySessionError,
    SettingSpec,
    StopReason,
    WorkStatus,
    begin_job_attempt,
    cancel_chart,
    cancel_job,
    cancel_study,
    fail_job,
    fail_step,
    fail_submitted_chart,
    fail_submitted_job,
    fail_submitted_study,
    finish_job,
    finish_step,
    import_network,
    job_status,
    load_population,
    make_engine,
    migrate,
    network_state_dict,
    reading,
    reclaim,
    record_progress,
    save_imported_network,
    save_job_network,
    save_study_outcome,
    save_trained_network,
    save_validation_result,
    session_factory,
    session_scope,
    set_two_neuron_regimes,
    start_job_attempt,
    start_step,
    step_done,
    stop_job,
    submit_chart,
    submit_job,
    submit_study,
    unfinished_job_ids,
)
from atlas.store.admission import OverBudgetError
from atlas.store.arrays import (
    arrays_from_blob,
    arrays_to_blob,
    from_blob,
    state_dict_from_blob,
    to_blob,
)
from atlas.store.jobs import JobSpecError, create_job
from atlas.store.lifecycle import AlreadyFinishedError
from atlas.store.models import (
    AnalysisRun,
    Chart,
    CheckpointRow,
    Job,
    Network,
    TwoNeuronNetwork,
    TwoNeuronStudyRow,
    ValidationResult,
)
from atlas.store.models.base import utcnow
from atlas.store.two_neuron import create_two_neuron_study, start_study_attempt
from atlas.store.work_reads import JobRecord, StudyRecord
from atlas.store.work_writes import IdempotencyKeyReusedError
from atlas.studies import TwoNeuronModel
from atlas.tasks import get_task
from atlas.training import TrainingConfig, TrainingProgress, train_population
from atlas.training.evaluation import population_mse
from atlas.training.two_neuron import TwoNeuronTrainingConfig, train_two_neuron

SMALL_DELAYED = {"f_max": 5, "delay_max": 2}  # 36 training trials: a population trains in seconds
TRAINING = {"max_epochs": 12, "checkpoint_every": 5}
SEED = 40


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny networks: one thread


@pytest.fixture(scope="module")
def trained():
    """Two vanilla networks really trained on a small delayed task."""
    task = get_task("delayed", **SMALL_DELAYED)
    config = TrainingConfig(**TRAINING, device="cpu")
    return train_population(task, "vanilla", 8, [SEED, SEED + 1], config)


@pytest.fixture(scope="module")
def two_neuron_study():
    """A few two-neuron networks trained for some Adam steps, with the config used."""
    config = TwoNeuronTrainingConfig(max_steps=10, log_every=5)
    return config, train_two_neuron(TwoNeuronModel(), [3, 4, 5, 6], config)


@pytest.fixture(scope="module", params=BACKENDS)
def sessions(request, tmp_path_factory):
    """A migrated database of each backend, shared by the module's tests (each adds its rows)."""
    with database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        migrate(url)
        engine = make_engine(url)
        yield session_factory(engine)
        engine.dispose()


def job_spec(**changes) -> JobSpec:
    fields = {
        "task": "delayed",
        "architecture": "vanilla",
        "units": 8,
        "count": 2,
        "seed": SEED,
        "task_parameters": SMALL_DELAYED,
        "training": TRAINING,
    } | changes
    return JobSpec(**fields)


def count_rows(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


# --- arrays ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.linspace(-1, 1, 60, dtype=np.float32).reshape(3, 4, 5),
        np.random.default_rng(0).normal(size=(7, 7)),
        np.linalg.eigvals(np.random.default_rng(1).normal(size=(6, 6))),  # complex eigenvalues
        np.arange(12, dtype=np.int64).reshape(2, 6),
        np.array(3.5),
        np.array([True, False]),
    ],
    ids=["float32-3d", "float64", "complex", "int64", "scalar", "bool"],
)
def test_array_blob_keeps_dtype_shape_and_values(array):
    back = from_blob(to_blob(array))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_tensor_and_state_dict_blobs(reference_networks):
    reference = reference_networks[0].state_dict
    back = state_dict_from_blob(arrays_to_blob(reference))
    assert back.keys() == reference.keys()
    for key, tensor in reference.items():
        assert back[key].dtype == tensor.dtype
        assert torch.equal(back[key], tensor)
    weights = reference["rnn.weight_hh_l0"]
    assert torch.equal(torch.from_numpy(from_blob(to_blob(weights))), weights)
    named = {"tp": np.arange(5.0), "decision": np.array([[1, -1], [0, 1]])}
    back_named = arrays_from_blob(arrays_to_blob(named))
    assert all(np.array_equal(array, named[name]) for name, array in back_named.items())


def test_blobs_never_unpickle():
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"code": "here"}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        from_blob(pickled.getvalue())
    with pytest.raises(TypeError, match="object arrays"):
        to_blob(np.array([object()], dtype=object))


# --- settings and connections ------------------------------------------------------------------


def test_settings_defaults_and_validation(tmp_path, monkeypatch):
    for name in ("ATLAS_DATABASE_URL", "ATLAS_BROKER_URL", "ATLAS_API_KEY", "ATLAS_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATLAS_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'atlas.db'}"
    assert settings.embedded and settings.api_key is None and settings.device == "auto"
    monkeypatch.setenv("ATLAS_BROKER_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv("ATLAS_DEVICE", "cuda:1")
    assert not Settings().embedded and Settings().device == "cuda:1"
    with pytest.raises(ValueError, match="device must be"):
        Settings(device="gpu")
    with pytest.raises(ValueError, match="sqlite or postgresql"):
        Settings(database_url="mysql://localhost/atlas")


def test_sqlite_connections_use_wal_foreign_keys_and_wait(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'atlas.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    finally:
        engine.dispose()


# --- jobs --------------------------------------------------------------------------------------


def test_idempotency_key_gives_back_the_same_job(sessions):
    with session_scope(sessions) as session:
        first, created = create_job(session, job_spec(), "key-same")
        assert created and first.status == "queued"
    with session_scope(sessions) as session:
        again, created = create_job(session, job_spec(count=5), "key-same")
        assert not created and again.id == first.id and again.count == 2
        other, created = create_job(session, job_spec(), "key-other")
        assert created and other.id != first.id
        keyless = [create_job(session, job_spec())[0].id for _ in range(2)]
        assert len(set(keyless)) == 2


def race(function, threads: int) -> list:
    """Call `function` on `threads` threads released together; its results, or its errors."""
    barrier, results = threading.Barrier(threads), []

    def run():
        barrier.wait()
        try:
            results.append(function())
        except Exception as exc:  # returned, so the test shows what went wrong
            results.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return results


def test_concurrent_requests_with_one_key_make_one_job(sessions):
    def submit() -> int:
        with session_scope(sessions) as session:
            return create_job(session, job_spec(), "key-race")[0].id

    ids = race(submit, 4)
    assert len(ids) == 4 and len(set(ids)) == 1 and isinstance(ids[0], int), ids
    with session_scope(sessions) as session:
        assert count_rows(session, Job, Job.idempotency_key == "key-race") == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "no_such_task"}, "unknown task"),
        ({"architecture": "transformer"}, "unknown architecture"),
        ({"units": 0}, "positive"),
        ({"count": -1}, "positive"),
        ({"training": {"max_epochs": 0}}, "max_epochs"),
        ({"training": {"learning_rat": 1e-3}}, "unknown training config"),
        ({"task_parameters": {"delay": 3}}, "no parameter"),
        ({"task": "two_neuron", "task_parameters": {}}, "unknown task"),  # a study model
    ],
)
def test_bad_job_specs_write_nothing(sessions, changes, message):
    with session_scope(sessions) as session:
        before = count_rows(session, Job)
        with pytest.raises(JobSpecError, match=message):
            create_job(session, job_spec(**changes), f"key-bad-{message}")
        assert count_rows(session, Job) == before


def test_submitted_work_is_committed_by_the_store_and_read_back_as_records(sessions):
    job, created = submit_job(sessions, job_spec(), "key-submit")
    assert created and isinstance(job, JobRecord) and job.status == "queued"
    again, created = submit_job(sessions, job_spec(), "key-submit")
    assert not created and again.id == job.id
    with pytest.raises(IdempotencyKeyReusedError, match=f"job {job.id}"):
        submit_job(sessions, job_spec(count=5), "key-submit")
    assert submit_job(sessions, job_spec(count=5), "key-submit", check_replay=False)[0] == again
    assert cancel_job(sessions, job.id).status == "cancelled"
    with pytest.raises(AlreadyFinishedError):
        cancel_job(sessions, job.id)
    study, created = submit_study(sessions, 3, seed=2, name="records")
    assert created and isinstance(study, StudyRecord)
    assert (study.status, study.count) == ("queued", 3)
    assert cancel_study(sessions, study.id).status == "cancelled"
    fail_submitted_job(sessions, submit_job(sessions, job_spec())[0].id, "could not be queued")
    with session_scope(sessions) as session:
        assert count_rows(session, Job, Job.error == "could not be queued") == 1


def test_idempotency_key_gives_back_the_same_study(sessions):
    """A replay answers the first study, also when it spells out a default; any other request
    under the key is refused, naming the key and the study, and writes nothing."""
    asked = {"seed": 4, "training": {"max_steps": 20}, "name": "keyed"}
    study, created = submit_study(sessions, 3, idempotency_key="key-study", **asked)
    assert created and study.status == "queued"
    default_rate = TwoNeuronTrainingConfig().learning_rate
    same = {**asked, "training": {"max_steps": 20, "learning_rate": default_rate}}
    again, created = submit_study(sessions, 3, idempotency_key="key-study", **same)
    assert not created and again == study
    with session_scope(sessions) as session:
        before = count_rows(session, TwoNeuronStudyRow)
    for count, changes in (
        (4, {}),
        (3, {"seed": 5}),
        (3, {"name": "other"}),
        (3, {"training": {"max_steps": 21}}),
        (3, {"task_parameters": {"t_final": 5.0}}),
    ):
        with pytest.raises(IdempotencyKeyReusedError, match=f"'key-study'.*study {study.id}"):
            submit_study(sessions, count, idempotency_key="key-study", **{**asked, **changes})
    with session_scope(sessions) as session:
        assert count_rows(session, TwoNeuronStudyRow) == before
    other, created = submit_study(sessions, 3, idempotency_key="key-study-other", **asked)
    assert created and other.id != study.id


def test_concurrent_requests_with_one_key_make_one_study(sessions):
    def submit() -> int:
        return submit_study(sessions, 2, idempotency_key="key-study-race")[0].id

    ids = race(submit, 4)
    assert len(ids) == 4 and len(set(ids)) == 1 and isinstance(ids[0], int), ids
    with session_scope(sessions) as session:
        keyed = TwoNeuronStudyRow.idempotency_key == "key-study-race"
        assert count_rows(session, TwoNeuronStudyRow, keyed) == 1


def test_a_study_that_could_not_be_queued_frees_its_key(sessions):
    """The 503 invites a retry: with the same key it makes a new study, the failed one kept."""
    failed, _ = submit_study(sessions, 2, idempotency_key="key-study-503")
    fail_submitted_study(sessions, failed.id, "could not be queued")
    retry, created = submit_study(sessions, 2, idempotency_key="key-study-503")
    assert created and retry.id != failed.id
    with session_scope(sessions) as session:
        kept = session.get_one(TwoNeuronStudyRow, failed.id)
        assert (kept.status, kept.idempotency_key) == ("failed", None)


def test_work_over_the_budget_is_refused_inside_the_store_and_writes_nothing(sessions):
    budget = Budget(memory_bytes=1, work=1, work_rate=1e9)
    with session_scope(sessions) as session:
        jobs, studies = count_rows(session, Job), count_rows(session, TwoNeuronStudyRow)
    with pytest.raises(OverBudgetError) as refused:
        submit_job(sessions, job_spec(), "key-over", budget)
    assert refused.value.extra["limit"] == {"memory_bytes": 1, "work": 1}
    with pytest.raises(OverBudgetError, match="a two-neuron study of 3 networks "):
        submit_study(sessions, 3, budget=budget)
    with pytest.raises(OverBudgetError, match="a two-neuron study of 1 network "):
        submit_study(sessions, 1, budget=budget)
    with session_scope(sessions) as session:
        assert count_rows(session, Job) == jobs
        assert count_rows(session, TwoNeuronStudyRow) == studies


def test_charts_are_submitted_and_cancelled_in_the_stores_transaction(sessions):
    spec = ChartSpec(
        task="delayed",
        settings=(SettingSpec("vanilla", 4),),
        networks_per_setting=2,
        task_parameters=SMALL_DELAYED,
        training=TRAINING,
        chunk_size=1,
    )
    with session_scope(sessions) as session:
        charts, jobs = count_rows(session, Chart), count_rows(session, Job)
    with pytest.raises(OverBudgetError):
        submit_chart(sessions, spec, "key-chart", Budget(memory_bytes=1, work=1, work_rate=1e9))
    with session_scope(sessions) as session:
        assert (count_rows(session, Chart), count_rows(session, Job)) == (charts, jobs)
    submitted = submit_chart(sessions, spec, "key-chart")
    record = submitted.record
    assert submitted.created and isinstance(record, ChartRecord) and record.status == "running"
    assert len(submitted.job_ids) == 2 and record.settings[0].pending == 2
    again = submit_chart(sessions, spec, "key-chart")
    assert not again.created and again.record.id == record.id
    assert again.job_ids == submitted.job_ids  # still queued: a replay sends them again
    with pytest.raises(IdempotencyKeyReusedError, match=f"chart {record.id}"):
        submit_chart(sessions, dataclasses.replace(spec, seed=5), "key-chart")
    assert cancel_chart(sessions, record.id).status == "cancelled"  # its chunks were queued
    with pytest.raises(AlreadyFinishedError):
        cancel_chart(sessions, record.id)
    failed = submit_chart(sessions, spec).record.id
    fail_submitted_chart(sessions, failed, "chart could not be queued")
    with session_scope(sessions) as session:
        assert session.get(Chart, failed).status == "failed"
        assert count_rows(session, Job, Job.error == "chart could not be queued") == 2


def test_a_reading_session_reads_records_and_refuses_to_write(sessions):
    """The API's request session: readers work through it, a change never reaches the
    database (a flush raises, the end rolls back)."""
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
    with reading(sessions) as session:
        assert job_status(session, job.id) == WorkStatus.QUEUED
        session.get(Job, job.id).status = WorkStatus.FAILED
        with pytest.raises(ReadOnlySessionError):
            session.flush()
    with reading(sessions) as session:
        session.get(Job, job.id).error = "never stored"
    with session_scope(sessions) as session:
        stored = session.get(Job, job.id)
        assert (stored.status, stored.error) == (WorkStatus.QUEUED, None)


def test_a_reading_session_never_waits_for_a_writer_and_cannot_write_in_sql(sessions):
    """A writer holding its lock does not delay a reader, which sees the committed state (on
    SQLite a BEGIN IMMEDIATE reader would queue behind the writer and fail after the busy
    timeout); on PostgreSQL the transaction is READ ONLY, so SQL past the ORM cannot write."""
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
    writer = sessions()
    try:
        writer.get(Job, job.id).error = "not committed"
        writer.flush()
        with reading(sessions) as session:
            assert session.get(Job, job.id).error is None
            if session.get_bind().dialect.name == "postgresql":
                with pytest.raises(DBAPIError, match="read-only transaction"):
                    session.execute(text("CREATE TEMPORARY TABLE probe (x int)"))
    finally:
        writer.rollback()
        writer.close()
    with session_scope(sessions) as session:
        assert session.get(Job, job.id).error is None


def test_job_lifecycle(sessions):
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
        assert job.id in unfinished_job_ids(session)
        assert start_job_attempt(session, job.id, max_attempts=3)
        record_progress(session, job.id, TrainingProgress(7, 12, 1, 1, 0))
    with session_scope(sessions) as session:
        job = session.get(Job, job.id)
        assert (job.status, job.attempts, job.epoch, job.max_epochs) == ("running", 1, 7, 12)
        assert (job.n_active, job.n_converged, job.n_failed) == (1, 1, 0)
        with pytest.raises(RuntimeError, match="0 of 2 networks"):
            finish_job(session, job.id)
        stopped = stop_job(session, job.id, StopReason.SHUTDOWN, "shutting down")
        assert (stopped, job.attempts) == (WorkStatus.QUEUED, 0)
        assert start_job_attempt(session, job.id, max_attempts=3)
        assert start_job_attempt(session, job.id, max_attempts=3)  # a redelivery
        assert fail_job(session, job.id, "RuntimeError: out of memory") == WorkStatus.FAILED
    with session_scope(sessions) as session:
        job = session.get(Job, job.id)
        assert (job.status, job.attempts, job.error) == ("failed", 2, "RuntimeError: out of memory")
        assert job.finished_at is not None and job.id not in unfinished_job_ids(session)


def test_work_queued_again_has_no_eta(sessions):
    """Given back at a shutdown or by the sweep, work waits for a worker: it has no ETA until
    one runs it again (it showed the stopped attempt's)."""
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
        study, _ = create_two_neuron_study(session, 2)
        for kind, row, give_back in (
            ("job", job, lambda: stop_job(session, job.id, StopReason.SHUTDOWN, "stopping")),
            ("job", job, lambda: reclaim(session, "job", job.id)),
            ("study", study, lambda: reclaim(session, "study", study.id)),
        ):
            if kind == "job":
                assert start_job_attempt(session, job.id, max_attempts=9)
            else:
                assert start_study_attempt(session, study.id, max_attempts=9)
            row.eta_at = utcnow() + timedelta(hours=1)  # as the running attempt paced it
            assert give_back() == WorkStatus.QUEUED
            assert (row.status, row.eta_at) == ("queued", None)


def test_a_job_attempt_says_what_is_left_to_train(sessions, trained):
    """What the worker reads when it begins a delivery: records, never rows of the tables."""
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
        first = begin_job_attempt(session, job.id, max_attempts=3)
        assert job_status(session, job.id) == "running"
    assert isinstance(first, JobAttempt)
    assert (first.seeds, first.unanalysed, first.snapshot) == ((SEED, SEED + 1), (), None)
    assert (first.task, first.architecture, first.units, first.count) == (
        "delayed",
        "vanilla",
        8,
        2,
    )
    assert SMALL_DELAYED.items() <= first.task_parameters.items() and first.attempt == 1
    with session_scope(sessions) as session:
        saved = save_job_network(session, job.id, trained[1])
        assert save_job_network(session, job.id, trained[1]) == saved  # once, whatever happens
        again = begin_job_attempt(session, job.id, max_attempts=3)  # a redelivery
    assert (again.seeds, again.unanalysed, again.attempt) == ((SEED,), (saved,), 2)
    cancel_job(sessions, job.id)
    with session_scope(sessions) as session:
        assert begin_job_attempt(session, job.id, max_attempts=3) is None
        assert job_status(session, job.id) == "cancelled"
        assert job_status(session, 2**31 - 1) is None
        with pytest.raises(NotFoundError):
            save_job_network(session, 2**31 - 1, trained[0])


def test_a_delivery_leaves_work_a_live_worker_holds(sessions):
    """A message the broker restores after its visibility timeout may find its work given back
    by the sweep and taken up by another worker: while that worker's heartbeat is younger than
    the lease the delivery is a duplicate and changes nothing (it would run the job twice at
    once); once the heartbeat is older, the delivery takes the work up. Without a lease (the
    embedded runner) a delivery always takes up what it finds."""
    lease = timedelta(minutes=5)
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
        assert begin_job_attempt(session, job.id, 3, lease) is not None  # queued: taken
        assert begin_job_attempt(session, job.id, 3, lease) is None  # held: a duplicate
        assert (job.status, job.attempts) == ("running", 1)
        job.heartbeat_at = job.heartbeat_at - 2 * lease  # its worker went silent
        assert begin_job_attempt(session, job.id, 3, lease).attempt == 2
        assert begin_job_attempt(session, job.id, 3).attempt == 3  # no lease: taken
        study, _ = create_two_neuron_study(session, 2)
        assert start_study_attempt(session, study.id, 3, lease)
        assert not start_study_attempt(session, study.id, 3, lease)
        assert (study.status, study.attempts) == ("running", 1)


def test_deliveries_at_once_start_one_attempt(sessions):
    """A replay sends queued work again, so two workers may receive it at the same moment:
    the row is locked as an attempt begins, and the others find it held."""
    with session_scope(sessions) as session:
        job_id = create_job(session, job_spec())[0].id
        study_id = create_two_neuron_study(session, 2)[0].id
    lease = timedelta(minutes=5)

    def deliver_job() -> bool:
        with session_scope(sessions) as session:
            return begin_job_attempt(session, job_id, 3, lease) is not None

    def deliver_study() -> bool:
        with session_scope(sessions) as session:
            return start_study_attempt(session, study_id, 3, lease)

    for deliver in (deliver_job, deliver_study):
        assert sorted(race(deliver, 4)) == [False, False, False, True]
    with session_scope(sessions) as session:
        assert session.get_one(Job, job_id).attempts == 1
        assert session.get_one(TwoNeuronStudyRow, study_id).attempts == 1


# --- networks ----------------------------------------------------------------------------------


def test_trained_networks_are_saved_once_and_load_back(sessions, trained):
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())
        ids = [save_trained_network(session, job, outcome).id for outcome in trained]
    with session_scope(sessions) as session:
        job = session.get(Job, job.id)
        assert [save_trained_network(session, job, o).id for o in reversed(trained)] == ids[::-1]
        assert count_rows(session, Network, Network.job_id == job.id) == 2
        finish_job(session, job.id)
        stranger = dataclasses.replace(trained[0], seed=SEED + 7)
        with pytest.raises(ValueError, match="not one of job"):
            save_trained_network(session, job, stranger)

    with session_scope(sessions) as session:
        for network_id, outcome in zip(ids, trained, strict=True):
            network = session.get(Network, network_id)
            assert (network.source, network.seed, network.index_in_job) == (
                "trained",
                outcome.seed,
                outcome.seed - SEED,
            )
            assert network.status == outcome.status and network.epochs == outcome.epochs
            assert network.validation_loss == pytest.approx(outcome.validation_loss, rel=1e-12)
            np.testing.assert_array_equal(from_blob(network.loss_curve), outcome.loss_curve)
            kinds = [(c.kind, c.epoch) for c in network.checkpoints]
            expected = [("initial", 0), *(("intermediate", c.epoch) for c in outcome.checkpoints)]
            assert sorted(kinds) == sorted([*expected, ("final", outcome.epochs)])
            final = network_state_dict(session, network_id)
            assert all(torch.equal(final[k], v) for k, v in outcome.final_state_dict.items())
            initial = network_state_dict(session, network_id, "initial")
            assert all(torch.equal(initial[k], v) for k, v in outcome.initial_state_dict.items())
        population = load_population(session, ids)
    recomputed = population_mse(population, get_task("delayed", **SMALL_DELAYED).validation_set())
    expected = torch.tensor([o.validation_loss for o in trained], dtype=recomputed.dtype)
    torch.testing.assert_close(recomputed, expected, rtol=1e-5, atol=0)


def test_concurrent_saves_of_one_network_store_it_once(sessions, trained):
    with session_scope(sessions) as session:
        job, _ = create_job(session, job_spec())

    def save() -> int:
        with session_scope(sessions) as session:
            return save_trained_network(session, session.get(Job, job.id), trained[1]).id

    ids = race(save, 3)
    assert len(ids) == 3 and len(set(ids)) == 1 and isinstance(ids[0], int), ids
    with session_scope(sessions) as session:
        assert count_rows(session, Network, Network.job_id == job.id) == 1


def test_imported_reference_network(sessions, reference_networks):
    reference = next(r for r in reference_networks if r.task == "delayed")
    task = get_task(reference.task)
    loss = float(population_mse(from_state_dicts([reference.state_dict]), task.validation_set())[0])
    with session_scope(sessions) as session:
        network = save_imported_network(
            session, task, reference.state_dict, loss, name=reference.name, info={"paper": True}
        )
        assert (network.source, network.architecture, network.units) == (
            "imported",
            reference.architecture,
            reference.units,
        )
        assert network.status == "converged" and network.job_id is None
    with session_scope(sessions) as session:
        back = network_state_dict(session, network.id)
        assert all(torch.equal(back[k], v) for k, v in reference.state_dict.items())
        assert session.get(Network, network.id).info == {"paper": True}
        one_input = {**reference.state_dict}
        one_input["rnn.weight_ih_l0"] = one_input["rnn.weight_ih_l0"][:, :1]
        with pytest.raises(ValueError, match="inputs"):
            save_imported_network(session, task, one_input, loss)


def scaled(state_dict: dict[str, torch.Tensor], factor: float) -> dict[str, torch.Tensor]:
    """Other weights of the same shapes: no other test of the module stores these."""
    return {key: tensor * factor for key, tensor in state_dict.items()}


def test_importing_the_same_weights_again_gives_the_network_already_there(
    sessions, reference_networks
):
    """Same weights and task variant: one network, the first import's name kept; another
    variant or one weight changed by one ulp: a new one."""
    reference = next(r for r in reference_networks if r.task == "delayed")
    weights, task = scaled(reference.state_dict, 1.25), get_task("delayed")
    first, created = import_network(sessions, task, weights, 0.5, name="first")
    assert created
    again = {key: tensor.clone() for key, tensor in weights.items()}
    assert import_network(sessions, task, again, 0.5, name="second") == (first, False)
    with session_scope(sessions) as session:
        network = session.get(Network, first)
        assert network.name == "first" and len(network.checkpoints) == 1
        assert network.content_key == network_key(
            "delayed",
            task.parameters(),
            network.architecture,
            arrays_from_blob(network.checkpoints[0].weights),
        )  # the key a dataset export gives the network

    variant, created = import_network(sessions, get_task("delayed", delay_max=2), weights, 0.5)
    assert created and variant != first
    interval, created = import_network(sessions, get_task("interval"), weights, 0.5)
    assert created and interval not in (first, variant)
    one_ulp = {key: tensor.clone() for key, tensor in weights.items()}
    one_ulp["rnn.weight_hh_l0"][0, 0] = torch.nextafter(
        one_ulp["rnn.weight_hh_l0"][0, 0], torch.tensor(float("inf"))
    )
    changed, created = import_network(sessions, task, one_ulp, 0.5)
    assert created and changed not in (first, variant, interval)


def test_concurrent_imports_of_one_network_store_it_once(sessions, reference_networks):
    reference = next(r for r in reference_networks if r.task == "reproduction")
    weights, task = scaled(reference.state_dict, 0.75), get_task("reproduction")
    results = race(lambda: import_network(sessions, task, weights, 0.5), 4)
    assert len(results) == 4 and all(isinstance(r, tuple) for r in results), results
    assert len({network_id for network_id, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]


# --- analysis rows -----------------------------------------------------------------------------


def test_analysis_steps_and_results_replace_not_duplicate(sessions, reference_networks):
    reference = next(r for r in reference_networks if r.task == "interval")
    task = get_task(reference.task)
    trials = task.validation_set()
    with torch.no_grad():
        outputs = from_state_dicts([reference.state_dict])(trials.inputs).outputs[0]
    errors = (outputs - trials.targets).pow(2).mean((1, 2)).numpy()
    with session_scope(sessions) as session:
        network = save_imported_network(session, task, reference.state_dict, 1e-4)
        network_id = network.id
        start_step(session, network_id, "validation")
        fail_step(session, network_id, "validation", "ValueError: first try")
        assert session.get(Network, network_id).analysis_status == "failed"
        start_step(session, network_id, "validation")
        for _ in range(2):
            save_validation_result(
                session, network_id, float(errors.mean()), errors, trials.conditions
            )
        finish_step(session, network_id, "validation")
    with session_scope(sessions) as session:
        (run,) = session.scalars(select(AnalysisRun).where(AnalysisRun.network_id == network_id))
        assert (run.status, run.attempts, run.error) == ("succeeded", 2, None)
        assert step_done(session, network_id, "validation")
        (result,) = session.scalars(
            select(ValidationResult).where(ValidationResult.network_id == network_id)
        )
        assert from_blob(result.trial_errors).shape == (len(trials),)
        conditions = arrays_from_blob(result.conditions)
        assert conditions.keys() == trials.conditions.keys()


def test_deleting_a_network_deletes_its_rows_in_the_database(sessions, reference_networks):
    """The foreign keys cascade in the database itself (SQLite needs foreign_keys=ON for it)."""
    reference = reference_networks[-1]
    with session_scope(sessions) as session:
        network_id = save_imported_network(
            session, get_task(reference.task), reference.state_dict, 1e-4
        ).id
        start_step(session, network_id, "validation")
    with session_scope(sessions) as session:
        session.execute(delete(Network).where(Network.id == network_id))
    with session_scope(sessions) as session:
        assert count_rows(session, CheckpointRow, CheckpointRow.network_id == network_id) == 0
        assert count_rows(session, AnalysisRun, AnalysisRun.network_id == network_id) == 0


# --- two-neuron studies ------------------------------------------------------------------------


def regime(w: np.ndarray) -> str:
    """science.md: the origin's Jacobian is W - I; read the regime from W's eigenvalues."""
    eigenvalues = np.linalg.eigvals(w)
    if eigenvalues.real.max() <= 1:
        return "stable_origin"
    return "limit_cycle" if np.iscomplex(eigenvalues).any() else "fixed_point"


def test_two_neuron_study_round_trip(sessions, two_neuron_study):
    config, outcome = two_neuron_study
    with session_scope(sessions) as session:
        training = dataclasses.asdict(config)
        study, _ = create_two_neuron_study(session, 4, seed=3, training=training, name="s")
        save_study_outcome(session, study.id, outcome)
        with pytest.raises(ValueError, match="got 3 regimes"):
            set_two_neuron_regimes(session, study.id, ["fixed_point"] * 3)
        with pytest.raises(ValueError, match="unknown regimes"):
            set_two_neuron_regimes(session, study.id, ["spiral"] * 4)
        set_two_neuron_regimes(session, study.id, [regime(w) for w in outcome.final_w])
    with session_scope(sessions) as session:
        study = session.get(TwoNeuronStudyRow, study.id)
        assert (study.count, study.training_config["max_steps"]) == (4, 10)
        networks = session.scalars(
            select(TwoNeuronNetwork)
            .where(TwoNeuronNetwork.study_id == study.id)
            .order_by(TwoNeuronNetwork.index_in_study)
        ).all()
        assert [n.seed for n in networks] == [3, 4, 5, 6]
        for k, network in enumerate(networks):
            np.testing.assert_array_equal(from_blob(network.initial_w), outcome.initial_w[k])
            np.testing.assert_array_equal(from_blob(network.final_w), outcome.final_w[k])
            np.testing.assert_array_equal(from_blob(network.loss_curve), outcome.loss_curves[k])
            assert (network.loss, network.solved) == (outcome.loss[k], outcome.solved[k])
            assert network.regime == regime(outcome.final_w[k])
