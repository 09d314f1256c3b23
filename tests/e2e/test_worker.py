"""Workers with real services: live Celery worker processes on Redis writing to PostgreSQL, a
worker killed with SIGKILL or stopped with SIGTERM mid-job, and the embedded (in-process) mode
on SQLite.

Each test gets its own Celery queue on a Redis database kept for these tests, so that short
visibility timeouts here never touch another test's messages.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import torch
from conftest import REDIS_URL, ROOT
from sqlalchemy import delete, func, select, update
from throwaway_databases import postgres_database, sqlite_url

from atlas.cli import main as atlas_main
from atlas.config import Settings, get_settings
from atlas.networks import torch_network
from atlas.store import (
    JobSpec,
    make_engine,
    migrate,
    network_state_dict,
    save_imported_network,
    session_factory,
    session_scope,
)
from atlas.store.jobs import create_job
from atlas.store.models import AnalysisRun, Job, Network, ValidationResult
from atlas.store.models.job import TrainingSnapshot
from atlas.tasks import get_task
from atlas.training import TrainingConfig, train_population
from worker import dispatch, tasks
from worker.database import bound_to
from worker.steps import STEPS

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

REDIS_DB = 11
SMALL_DELAYED = {"f_max": 5, "delay_max": 2}
TIMEOUT_S = 300
VISIBILITY_TIMEOUT_S = 4
# Jobs that a kill or a shutdown must land inside, and how often to look for the moment: an
# epoch of these small networks takes about 1.5 ms in the C kernel, so 150 epochs once ended
# between two polls 0.5 s apart; 3000 leave seconds.
IN_FLIGHT_EPOCHS = 3000
IN_FLIGHT_POLL_S = 0.02
CELERY = str(ROOT / ".venv" / "bin" / "celery")
ATLAS = str(ROOT / ".venv" / "bin" / "atlas")


@pytest.fixture(scope="module")
def postgres():
    with postgres_database("atlas_worker_test") as url:
        migrate(url)
        yield url


@pytest.fixture
def service_settings():
    """Settings for PostgreSQL + Redis with a queue of the test's own, removed afterwards."""
    queues = []

    def make(database_url: str, **changes) -> Settings:
        queues.append(f"atlas-test-{uuid.uuid4().hex[:10]}")
        return Settings(
            database_url=database_url,
            broker_url=f"{REDIS_URL}/{REDIS_DB}",
            queue=queues[-1],
            torch_threads=1,
            **changes,
        )

    yield make
    with broker_client() as client:
        for queue in queues:
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def submit(settings: Settings, count: int, max_epochs: int, seed: int = 0, **training) -> int:
    spec = JobSpec(
        task="delayed",
        architecture="vanilla",
        units=8,
        count=count,
        seed=seed,
        task_parameters=SMALL_DELAYED,
        # A failure_loss no network stays above: the short runs end "unfinished", not failed,
        # so the job succeeds (a job whose networks all failed reads failed).
        training={
            "max_epochs": max_epochs,
            "checkpoint_every": 10,
            "failure_loss": 1.0,
            **training,
        },
    )
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        job_id = create_job(session, spec)[0].id
    dispatch.enqueue_training(job_id, settings)
    return job_id


@contextmanager
def sessions_of(settings: Settings):
    engine = make_engine(settings.database_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def job_state(settings: Settings, job_id: int) -> tuple[Job, list[Network]]:
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        job = session.get(Job, job_id)
        networks = list(session.scalars(select(Network).where(Network.job_id == job_id)))
        return job, networks


def finished_and_analysed(settings: Settings, job_id: int) -> bool:
    job, networks = job_state(settings, job_id)
    if job.status == "failed":
        raise AssertionError(f"job {job_id} failed: {job.error}")
    return job.status == "succeeded" and all(n.analysis_status == "done" for n in networks)


def wait_for(
    condition: Callable[[], bool], what: str, log: Path | None = None, every_s: float = 0.5
) -> None:
    """Poll every `every_s` until `condition()` holds; after TIMEOUT_S fail, showing the
    worker's log."""
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text()[-4000:] if log and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n--- worker log ---\n{tail}")
        time.sleep(every_s)


@contextmanager
def worker_process(command: list[str], settings: Settings, log: Path) -> Iterator[subprocess.Popen]:
    """A worker started as its own process group (main process and pool), always killed after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATLAS_")}
    env |= {
        "ATLAS_DATABASE_URL": settings.database_url,
        "ATLAS_BROKER_URL": settings.broker_url,
        "ATLAS_QUEUE": settings.queue,
        "ATLAS_BROKER_VISIBILITY_TIMEOUT": str(settings.broker_visibility_timeout),
        "ATLAS_WORK_LEASE_S": str(settings.work_lease_s),
        "ATLAS_TORCH_THREADS": "1",
        "ATLAS_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    with log.open("a") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)


def celery_worker(name: str) -> list[str]:
    return [CELERY, "-A", "worker.app", "worker", "--pool=prefork", "--concurrency=1",
            "--loglevel=INFO", "--without-mingle", "--without-gossip", f"--hostname={name}@%h",
            "--queues"]  # fmt: skip


def assert_one_network_per_seed(job: Job, networks: list[Network]) -> None:
    assert sorted(n.index_in_job for n in networks) == list(range(job.count))
    assert sorted(n.seed for n in networks) == [job.network_seed(i) for i in range(job.count)]


@pytest.mark.postgresql
@pytest.mark.redis
def test_live_worker_trains_and_analyses_into_postgres(postgres, service_settings, tmp_path):
    settings = service_settings(postgres)
    log = tmp_path / "worker.log"
    job_id = submit(settings, count=3, max_epochs=30)
    with worker_process([*celery_worker("live"), settings.queue], settings, log):
        wait_for(lambda: finished_and_analysed(settings, job_id), "the job and analyses", log)

    job, networks = job_state(settings, job_id)
    assert (job.status, job.attempts, job.n_saved) == ("succeeded", 1, 3)
    assert job.epoch == max(n.epochs for n in networks)  # progress written to the last epoch
    assert_one_network_per_seed(job, networks)
    trials = get_task("delayed", **SMALL_DELAYED).validation_set()
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        for network in networks:
            runs = session.scalars(
                select(AnalysisRun).where(AnalysisRun.network_id == network.id)
            ).all()
            assert {r.step for r in runs} == {step.name for step in STEPS}
            assert all(r.status in ("succeeded", "skipped") for r in runs)
            result = session.scalars(
                select(ValidationResult).where(ValidationResult.network_id == network.id)
            ).one()
            # The weights a client downloads reproduce the stored validation loss.
            model = torch_network(network_state_dict(session, network.id))
            with torch.no_grad():
                loss = (model(trials.inputs) - trials.targets).pow(2).mean().item()
            assert loss == pytest.approx(network.validation_loss, rel=1e-4)
            assert result.loss == pytest.approx(network.validation_loss, rel=1e-4)


@pytest.mark.postgresql
@pytest.mark.redis
def test_worker_killed_mid_job_is_redelivered_without_duplicates(
    postgres, service_settings, tmp_path
):
    """...and continues from its last training snapshot: the same weights as an uninterrupted
    run, no more than one snapshot interval (resume_every epochs) trained twice. The lease is
    shorter than the visibility timeout: a delivery takes up running work only once its
    holder's heartbeat is older than the lease (atlas.store.lifecycle.held_elsewhere)."""
    settings = service_settings(
        postgres, broker_visibility_timeout=VISIBILITY_TIMEOUT_S, work_lease_s=3.0
    )
    log = tmp_path / "workers.log"
    job_id = submit(settings, count=3, max_epochs=IN_FLIGHT_EPOCHS, seed=100, resume_every=10)

    def training_started() -> bool:
        job = job_state(settings, job_id)[0]
        return job.status == "running" and snapshot_epoch(settings, job_id) >= 10

    with worker_process([*celery_worker("doomed"), settings.queue], settings, log) as doomed:
        wait_for(training_started, "training to start", log, every_s=IN_FLIGHT_POLL_S)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=60)
    job, networks = job_state(settings, job_id)
    assert job.status == "running" and len(networks) < job.count, "the kill came after the job"

    # The lost delivery goes back on the queue once it is older than the visibility timeout;
    # the next worker to start (here through `atlas worker`) restores and runs it.
    time.sleep(VISIBILITY_TIMEOUT_S + 1)
    with worker_process([ATLAS, "worker", "--concurrency", "1"], settings, log):
        wait_for(lambda: finished_and_analysed(settings, job_id), "the redelivered job", log)

    job, networks = job_state(settings, job_id)
    assert (job.status, job.attempts, job.n_saved) == ("succeeded", 2, 3)
    assert_one_network_per_seed(job, networks)
    assert "resuming from its snapshot after epoch" in log.read_text()
    assert_same_as_uninterrupted(settings, job_id)


@pytest.mark.postgresql
@pytest.mark.redis
def test_a_worker_killed_outright_has_its_job_given_back_by_another(
    postgres, service_settings, tmp_path
):
    """With the broker's visibility timeout long (its default is 12 h), the job of a worker
    killed outright read `running` until then, and a cancel left it `cancelling`. Another
    worker's sweep now gives it back once its heartbeat is older than the lease: the running
    job is queued again and finishes from its snapshot, each network once; the cancelled one
    ends cancelled."""
    settings = service_settings(postgres, broker_visibility_timeout=3600, work_lease_s=3.0)
    log = tmp_path / "workers.log"
    running = submit(settings, count=3, max_epochs=IN_FLIGHT_EPOCHS, seed=100, resume_every=10)
    try:
        with worker_process([*celery_worker("doomed"), settings.queue], settings, log) as doomed:
            wait_for(
                lambda: snapshot_epoch(settings, running) >= 10,
                "training to start",
                log,
                every_s=IN_FLIGHT_POLL_S,
            )
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=60)
        assert job_state(settings, running)[0].status == "running"
        with worker_process([ATLAS, "worker", "--concurrency", "1"], settings, log):
            wait_for(lambda: finished_and_analysed(settings, running), "the given-back job", log)
            # The same, cancelled while its worker is gone: the sweep ends it cancelled.
            stuck = submit(settings, count=2, max_epochs=IN_FLIGHT_EPOCHS, seed=200)
            with sessions_of(settings) as sessions, session_scope(sessions) as session:
                session.execute(
                    update(Job).where(Job.id == stuck).values(status="cancelling", attempts=1)
                )
            wait_for(lambda: job_state(settings, stuck)[0].status == "cancelled", "the sweep", log)
    finally:
        _forget_unacknowledged(settings.queue)
    job, networks = job_state(settings, running)
    assert (job.status, job.attempts, job.n_saved) == ("succeeded", 2, 3)
    assert_one_network_per_seed(job, networks)
    text = log.read_text()
    assert f"job {running}: its worker was lost; now queued" in text
    assert "resuming from its snapshot after epoch" in text
    assert job_state(settings, stuck)[0].n_active == 0


@pytest.mark.postgresql
@pytest.mark.redis
def test_a_stopped_worker_gives_its_job_back_and_exits_at_once(
    postgres, service_settings, tmp_path
):
    """SIGTERM to a worker (a deploy, `docker compose stop`) begins Celery's warm shutdown,
    which waits for the running task: a training job's hours. The job is given back instead:
    queued again at its next minibatch with its snapshot, the attempt not counted, its message
    back on the queue once (neither the visibility timeout nor the sweep, both an hour here,
    gives it back), and the worker exits within seconds (3-4 s here, as an idle worker; before
    the hand-back it ran this job to its end, 24 s: the exit time is printed, the job left
    unfinished is what is asserted). The next worker resumes the job from the snapshot and
    trains each network once."""
    settings = service_settings(postgres, broker_visibility_timeout=3600, work_lease_s=3600.0)
    log = tmp_path / "workers.log"
    job_id = submit(settings, count=3, max_epochs=IN_FLIGHT_EPOCHS, seed=300, resume_every=10)
    with worker_process([*celery_worker("stopped"), settings.queue], settings, log) as stopped:
        wait_for(
            lambda: snapshot_epoch(settings, job_id) >= 10,
            "training to start",
            log,
            every_s=IN_FLIGHT_POLL_S,
        )
        started = time.monotonic()
        stopped.send_signal(signal.SIGTERM)  # the main process alone, as `docker stop` sends it
        try:
            stopped.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            tail = log.read_text()[-4000:]
            raise AssertionError(f"the stopped worker ran on\n--- worker log ---\n{tail}") from None
        exited_s = time.monotonic() - started
    job, networks = job_state(settings, job_id)
    assert (job.status, job.attempts) == ("queued", 0) and len(networks) < job.count
    snapshot = snapshot_epoch(settings, job_id)
    assert snapshot >= 10
    with broker_client() as client:
        queued = queued_messages(client, settings.queue)
        assert (queued, unacknowledged(client, settings.queue)) == (1, [])
    print(f"the stopped worker exited {exited_s:.1f} s after SIGTERM")

    with worker_process([ATLAS, "worker", "--concurrency", "1"], settings, log):
        wait_for(lambda: finished_and_analysed(settings, job_id), "the given-back job", log)
    job, networks = job_state(settings, job_id)
    assert (job.status, job.attempts, job.n_saved) == ("succeeded", 1, 3)
    assert_one_network_per_seed(job, networks)
    text = log.read_text()
    assert f"job {job_id} stopped (shutdown)" in text
    assert f"job {job_id}: the worker is shutting down, its message goes back" in text
    assert "Traceback" not in text and "Reject" not in text, "an expected hand-back: one line"
    assert f"job {job_id}: resuming from its snapshot after epoch {snapshot}" in text


@contextmanager
def broker_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}")
    try:
        yield client
    finally:
        client.close()


def queued_messages(client: redis.Redis, queue: str) -> int:
    """Messages waiting on `queue` (kombu keeps one Redis list per priority step)."""
    lists = [key for key in client.scan_iter(match=f"{queue}*") if client.type(key) == b"list"]
    return sum(client.llen(key) for key in lists)


def unacknowledged(client: redis.Redis, queue: str) -> list[bytes]:
    """The delivery tags of `queue`'s messages that a worker took and did not acknowledge
    (kombu's `unacked` hash)."""
    return [tag for tag, value in client.hgetall("unacked").items() if queue.encode() in value]


def _forget_unacknowledged(queue: str) -> None:
    """Drop the killed worker's unacknowledged message: a later test's worker would restore it
    to this test's queue, long gone."""
    with broker_client() as client:
        for tag in unacknowledged(client, queue):
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def snapshot_epoch(settings: Settings, job_id: int) -> int:
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        row = session.get(TrainingSnapshot, job_id)
        return -1 if row is None else row.epoch


def assert_same_as_uninterrupted(settings: Settings, job_id: int) -> None:
    """The job's stored networks equal, bit for bit, those of the same population trained in
    one go here (same seeds, config, CPU and one thread)."""
    job, networks = job_state(settings, job_id)
    config = TrainingConfig.from_dict({**job.training_config, "device": "cpu"})
    task = get_task(job.task, **job.task_parameters)
    seeds = [job.network_seed(i) for i in range(job.count)]
    reference = train_population(task, job.architecture, job.units, seeds, config)
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        for network, outcome in zip(
            sorted(networks, key=lambda n: n.index_in_job), reference, strict=True
        ):
            assert network.epochs == outcome.epochs
            stored = network_state_dict(session, network.id)
            for key, tensor in outcome.final_state_dict.items():
                assert torch.equal(stored[key], tensor), (network.index_in_job, key)


def test_atlas_worker_refuses_without_broker_or_schema(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ATLAS_DATABASE_URL", sqlite_url(tmp_path))
    monkeypatch.delenv("ATLAS_BROKER_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert atlas_main(["worker"]) == 2
        assert "ATLAS_BROKER_URL is not set" in capsys.readouterr().err
        monkeypatch.setenv("ATLAS_BROKER_URL", f"{REDIS_URL}/{REDIS_DB}")
        get_settings.cache_clear()
        assert atlas_main(["worker"]) == 2
        assert "run `atlas migrate`" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


@pytest.fixture
def embedded(tmp_path):
    """The default mode: SQLite, no broker; the job thread is stopped after the test."""
    settings = Settings(database_url=sqlite_url(tmp_path), broker_url=None, torch_threads=1)
    migrate(settings.database_url)
    yield settings
    dispatch.shutdown()


def test_embedded_mode_interrupted_at_shutdown_resumes_on_start(embedded):
    job_id = submit(embedded, count=3, max_epochs=IN_FLIGHT_EPOCHS, seed=7)
    wait_for(
        lambda: job_state(embedded, job_id)[0].epoch >= 1,
        "training to start",
        every_s=IN_FLIGHT_POLL_S,
    )
    dispatch.shutdown(wait=True)
    job, networks = job_state(embedded, job_id)
    assert (job.status, job.attempts) == ("queued", 0) and len(networks) < 3

    assert dispatch.resume_unfinished(embedded) >= 1
    wait_for(lambda: finished_and_analysed(embedded, job_id), "the resumed job")
    job, networks = job_state(embedded, job_id)
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert_one_network_per_seed(job, networks)


def test_training_task_run_again_adds_only_what_is_missing(embedded):
    """A redelivered training task trains only the networks not stored, and they come out
    the same as the first time (a network depends on its seed alone)."""
    job_id = submit(embedded, count=3, max_epochs=25, seed=21)
    wait_for(lambda: finished_and_analysed(embedded, job_id), "the job")
    job, networks = job_state(embedded, job_id)
    lost = next(n for n in networks if n.index_in_job == 1)
    with sessions_of(embedded) as sessions, session_scope(sessions) as session:
        lost_weights = network_state_dict(session, lost.id)
        session.execute(delete(Network).where(Network.id == lost.id))
        session.execute(update(Job).where(Job.id == job_id).values(status="running"))

    with bound_to(embedded):
        tasks.train_job(job_id)
        tasks.train_job(job_id)  # a second redelivery after success: nothing to do

    job, networks = job_state(embedded, job_id)
    assert (job.status, job.attempts, job.n_saved) == ("succeeded", 2, 3)
    assert_one_network_per_seed(job, networks)
    kept = {n.index_in_job: n.id for n in networks}
    assert kept[1] != lost.id
    with sessions_of(embedded) as sessions, session_scope(sessions) as session:
        again = network_state_dict(session, kept[1])
        assert session.scalar(select(func.count()).select_from(Network)) == 3
    for key, tensor in lost_weights.items():
        torch.testing.assert_close(again[key], tensor, rtol=1e-4, atol=1e-6)


def imported(settings: Settings, reference, recorded_loss: float) -> int:
    task = get_task(reference.task)
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        return save_imported_network(session, task, reference.state_dict, recorded_loss).id


def analysis_rows(settings: Settings, network_id: int) -> tuple[Network, list, list]:
    with sessions_of(settings) as sessions, session_scope(sessions) as session:
        runs = list(
            session.scalars(select(AnalysisRun).where(AnalysisRun.network_id == network_id))
        )
        results = list(
            session.scalars(
                select(ValidationResult).where(ValidationResult.network_id == network_id)
            )
        )
        return session.get(Network, network_id), runs, results


@pytest.mark.postgresql
def test_imported_network_analysed_by_concurrent_deliveries_once(postgres, reference_networks):
    """Imported networks take the same analysis path; three deliveries of one analysis at once
    leave one result and a succeeded step."""
    settings = Settings(database_url=postgres)
    reference = next(r for r in reference_networks if r.task == "reproduction")
    trials = get_task(reference.task).validation_set()
    with torch.no_grad():
        outputs = torch_network(reference.state_dict)(trials.inputs)
    network_id = imported(settings, reference, (outputs - trials.targets).pow(2).mean().item())

    def analyse() -> None:
        with bound_to(settings):
            tasks.analyse_network(network_id)

    threads = [threading.Thread(target=analyse) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)
    network, runs, results = analysis_rows(settings, network_id)
    assert network.analysis_status == "done"
    assert sorted((r.step, r.status, r.error) for r in runs) == sorted(
        (step.name, "succeeded", None) for step in STEPS
    )
    assert len(results) == 1
    assert results[0].loss == pytest.approx(network.validation_loss, rel=1e-4)


@pytest.mark.postgresql
def test_step_failure_is_recorded_and_stops_the_analysis(postgres, reference_networks):
    """A network whose recorded loss its weights do not reproduce fails validation, visibly."""
    settings = Settings(database_url=postgres)
    network_id = imported(settings, reference_networks[0], recorded_loss=0.5)
    with bound_to(settings):
        tasks.analyse_network(network_id)
    network, runs, results = analysis_rows(settings, network_id)
    assert network.analysis_status == "failed" and results == []
    (run,) = runs
    assert run.status == "failed" and "InconsistentNetworkError" in run.error
