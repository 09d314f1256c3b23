"""The analysis steps in the atlas, on the real PostgreSQL and SQLite: imported reference
networks (delayed, interval, a reproduction GRU and LSTM) get fixed points, limit cycles,
extrapolation signatures, graphs, types and features; a re-run replaces rows instead of adding
them; a network that is no solution (validation loss not below 2e-4) has its graph and type
skipped, visibly; a two-neuron study runs as a job and stores the regimes helper-4's
classifier gives."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sqlalchemy import delete, func, select, update
from test_worker import (
    celery_worker,
    service_settings,  # noqa: F401 - a fixture, requested by name
    wait_for,
    worker_process,
)
from throwaway_databases import database

from atlas.analysis.extrapolation import extrapolation_signature as science_signature
from atlas.analysis.features import feature_names, neural_features
from atlas.analysis.fixed_point_conditions import constant_inputs
from atlas.analysis.graph import from_node_link
from atlas.analysis.solution_types import canonical_hash, same_type
from atlas.analysis.two_neuron_regimes import dynamic_regimes, eigenvalue_regimes, regime_counts
from atlas.config import Settings
from atlas.networks import from_state_dicts
from atlas.store import (
    JobSpec,
    extrapolation_signature,
    fixed_point_analysis,
    limit_cycles,
    make_engine,
    migrate,
    network_features,
    network_solution_type,
    reduced_graph,
    save_imported_network,
    save_trained_network,
    session_factory,
    session_scope,
    study_weights,
    two_neuron_regime_summary,
    type_table,
)
from atlas.store.jobs import create_job
from atlas.store.models import (
    AnalysisRun,
    ExtrapolationSignature,
    Features,
    FixedPoint,
    Job,
    LimitCycleRow,
    Network,
    ReducedGraphRow,
    SolutionType,
    TwoNeuronNetwork,
    TwoNeuronStudyRow,
    ValidationResult,
)
from atlas.store.two_neuron import create_two_neuron_study
from atlas.store.work_status import FINISHED, WorkStatus
from atlas.tasks import get_task
from atlas.training import TrainingConfig, train_population
from atlas.training.evaluation import population_mse
from worker import dispatch, tasks
from worker.database import bound_to
from worker.steps import STEPS
from worker.two_neuron_study import run_two_neuron_study

ANALYSED = (
    "delayed_vanilla_20_i100",
    "interval_vanilla_20_i100",
    "reproduction_gru_20_i100",
    "reproduction_lstm_20_i100",
)
RESULT_TABLES = (FixedPoint, LimitCycleRow, ExtrapolationSignature, ReducedGraphRow, Features)
STUDY_SIZE, STUDY_STEPS = 240, 40


def study_status(summary) -> WorkStatus:
    """How a study ends that ran to its end: a network that did not solve the task counts as
    failed (at the paper's size about 29% do not), so the status follows the solved count;
    the regimes and maps are stored either way."""
    if summary.solved == summary.n:
        return WorkStatus.SUCCEEDED
    return WorkStatus.PARTIALLY_SUCCEEDED if summary.solved else WorkStatus.FAILED


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def postgres_url():
    with database("postgresql", None) as url:
        migrate(url)
        yield url


def sessions_for(url: str):
    return session_factory(make_engine(url))


def import_reference(url: str, reference) -> int:
    task = get_task(reference.task)
    loss = float(population_mse(from_state_dicts([reference.state_dict]), task.validation_set())[0])
    with session_scope(sessions_for(url)) as session:
        return save_imported_network(
            session, task, reference.state_dict, loss, name=reference.name
        ).id


def analyse(url: str, network_id: int) -> None:
    with bound_to(Settings(database_url=url)):
        tasks.analyse_network(network_id)


def row_counts(session, network_id: int) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(
            select(func.count()).select_from(model).where(model.network_id == network_id)
        )
        for model in RESULT_TABLES
    }


@pytest.fixture(scope="module")
def analysed(one_torch_thread, postgres_url, reference_networks) -> dict[str, int]:
    """The chosen reference networks imported into PostgreSQL and analysed: name -> id."""
    by_name = {r.name: r for r in reference_networks}
    ids = {name: import_reference(postgres_url, by_name[name]) for name in ANALYSED}
    for network_id in ids.values():
        analyse(postgres_url, network_id)
    return ids


@pytest.mark.postgresql
@pytest.mark.parametrize("name", ANALYSED)
def test_an_imported_network_gets_every_analysis(postgres_url, analysed, reference_networks, name):
    reference = next(r for r in reference_networks if r.name == name)
    task = get_task(reference.task)
    population = from_state_dicts([reference.state_dict])
    network_id = analysed[name]
    with session_scope(sessions_for(postgres_url)) as session:
        network = session.get(Network, network_id)
        runs = session.scalars(
            select(AnalysisRun).where(AnalysisRun.network_id == network_id)
        ).all()
        assert network.analysis_status == "done"
        assert sorted((r.step, r.status, r.error) for r in runs) == sorted(
            (step.name, "succeeded", None) for step in STEPS
        )
        assert all(r.duration_s is not None and r.duration_s >= 0 for r in runs)

        # Fixed points: every condition of the task in order, true fixed points polished.
        points = fixed_point_analysis(session, network_id)
        assert [c.label for c in points.conditions] == [c for c, _ in constant_inputs(task)]
        state_size = reference.units * (2 if reference.architecture == "lstm" else 1)
        found = [c.points for c in points.conditions]
        assert sum(len(p) for p in found) == row_counts(session, network_id)["fixed_points"] > 0
        for p in found:
            assert p.states.shape == (len(p), state_size)
            assert p.jacobians.shape == (len(p), state_size, state_size)
            assert np.all(p.q[p.fixed] < 1e-10)
            magnitudes = np.abs(p.eigenvalues).max(axis=1) if len(p) else np.zeros(0)
            np.testing.assert_array_equal(p.stable, magnitudes < 1)
        # ... and the run keeps how each condition's state space was covered.
        summary = next(r.summary for r in runs if r.step == "fixed_points")
        for entry, p in zip(summary["conditions"], found, strict=True):
            assert entry["coverage"]["saturation"][-1][1] == len(p)
            assert entry["coverage"]["starts"]["free_run"] > 0

        # Limit cycles of the autonomous runs: one period of states, outputs along it.
        (zero,) = limit_cycles(session, network_id)
        assert zero.condition == "zero"
        for cycle in zero.cycles:
            assert cycle.period > 1 and cycle.states.shape[1] == state_size
            assert len(cycle.outputs) == len(cycle.states)

        # The signature comes back exactly as the science computes it.
        stored = extrapolation_signature(session, network_id)
        (expected,) = science_signature(population, task)
        assert stored.task == task.name and stored.arrays.keys() == expected.arrays.keys()
        for key, array in expected.arrays.items():
            np.testing.assert_array_equal(stored.arrays[key], array)
        assert stored.summary.keys() == expected.summary.keys()
        np.testing.assert_array_equal(
            list(stored.summary.values()), [expected.summary[k] for k in stored.summary]
        )

        # The graph, its hash, and the type it was given.
        graph = reduced_graph(session, network_id)
        compact = from_node_link(graph.compact)
        assert graph.canonical_hash == canonical_hash(compact)
        assert graph.n_nodes == compact.number_of_nodes() >= 1
        assert graph.n_edges == compact.number_of_edges()
        assert from_node_link(graph.full).number_of_nodes() >= graph.n_nodes
        solution_type = network_solution_type(session, network_id)
        assert solution_type.task == task.name
        assert same_type(from_node_link(solution_type.graph), compact)

        # Features as the science computes them from the weights.
        features = network_features(session, network_id)
        names, values = neural_features(population, task)
        assert list(features) == list(feature_names(task)) == list(names)
        np.testing.assert_allclose(list(features.values()), values[0], rtol=1e-6, equal_nan=True)


@pytest.mark.postgresql
def test_a_rerun_replaces_rows_and_keeps_types(postgres_url, analysed):
    """Every step run again (as after a lost acknowledgement): the same number of rows, and
    each network still counted once in its type."""
    sessions = sessions_for(postgres_url)
    ids = list(analysed.values())
    with session_scope(sessions) as session:
        before = {i: row_counts(session, i) for i in ids}
        types_before = session.scalar(select(func.count()).select_from(SolutionType))
        session.execute(delete(AnalysisRun).where(AnalysisRun.network_id.in_(ids)))
    for network_id in ids:
        analyse(postgres_url, network_id)
        analyse(postgres_url, network_id)  # a second delivery finds everything done
    with session_scope(sessions) as session:
        assert {i: row_counts(session, i) for i in ids} == before
        assert session.scalar(select(func.count()).select_from(SolutionType)) == types_before
        assert session.scalar(
            select(func.count())
            .select_from(ValidationResult)
            .where(ValidationResult.network_id.in_(ids))
        ) == len(ids)
        for task in ("delayed", "interval", "reproduction"):
            table = type_table(session, task)
            typed = [i for i in ids if session.get(Network, i).task == task]
            assert table.networks == len(typed)
            assert sum(t.member_count for t in table.types) == len(typed)


@pytest.mark.postgresql
def test_the_sqlite_atlas_stores_the_same_analyses(
    postgres_url, analysed, reference_networks, tmp_path
):
    """The embedded default (SQLite) analyses a reference network into the same rows, graph
    and type name as PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    migrate(url)
    name = "interval_vanilla_20_i100"
    network_id = import_reference(url, next(r for r in reference_networks if r.name == name))
    analyse(url, network_id)
    found = {}
    for database_url, key in ((url, network_id), (postgres_url, analysed[name])):
        with session_scope(sessions_for(database_url)) as session:
            found[database_url] = (
                session.get(Network, key).analysis_status,
                row_counts(session, key),
                reduced_graph(session, key).compact,
                network_solution_type(session, key).name,
                [c.points.q.size for c in fixed_point_analysis(session, key).conditions],
            )
    assert found[url] == found[postgres_url]
    assert found[url][0] == "done"


@pytest.mark.parametrize(
    ("parameters", "features"),
    [
        ({"f_max": 5, "delay_max": 2}, "succeeded"),
        # No delay: the features' delay window selects no trial, so they do not apply.
        ({"f_max": 3, "delay_max": 0}, "skipped"),
    ],
)
def test_a_network_that_is_no_solution_skips_graph_and_type(tmp_path, parameters, features):
    """A really (briefly) trained network on SQLite: every analysis that applies is stored, the
    graph and the type (and features a variant lacks the windows of) are recorded as skipped
    with their reason, and the analysis is done."""
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    migrate(url)
    sessions = sessions_for(url)
    spec = JobSpec(
        task="delayed",
        architecture="vanilla",
        units=8,
        count=1,
        seed=3,
        task_parameters=parameters,
        training={"max_epochs": 10, "checkpoint_every": 5},
    )
    with session_scope(sessions) as session:
        job = create_job(session, spec)[0]
    task = get_task("delayed", **spec.task_parameters)
    config = TrainingConfig.from_dict({**spec.training, "device": "cpu"})
    (outcome,) = train_population(task, "vanilla", 8, [3], config)
    with session_scope(sessions) as session:
        network_id = save_trained_network(session, session.get(Job, job.id), outcome).id
    analyse(url, network_id)
    with session_scope(sessions) as session:
        network = session.get(Network, network_id)
        assert network.status == "failed" and network.analysis_status == "done"
        runs = session.scalars(select(AnalysisRun).where(AnalysisRun.network_id == network_id))
        runs = {r.step: r for r in runs}
        assert {step: run.status for step, run in runs.items()} == {
            "validation": "succeeded",
            "fixed_points": "succeeded",
            "limit_cycles": "succeeded",
            "extrapolation": "succeeded",
            "graph": "skipped",
            "solution_type": "skipped",
            "features": features,
        }
        assert "is no solution" in runs["graph"].summary["reason"]
        assert runs["graph"].error is None
        assert reduced_graph(session, network_id) is None
        assert network_solution_type(session, network_id) is None
        counts = row_counts(session, network_id)
        assert counts["reduced_graphs"] == 0 and counts["extrapolation_signatures"] == 1
        assert counts["features"] == (features == "succeeded")
        if features == "skipped":
            assert "selects no trial" in runs["features"].summary["reason"]


@pytest.mark.postgresql
def test_two_neuron_study_job_stores_regimes_and_maps(postgres_url):
    """A study of a few hundred networks: trained, classified both ways, mapped; the stored
    counts are those of the classifiers run on the stored final W."""
    sessions = sessions_for(postgres_url)
    with session_scope(sessions) as session:
        study_id = create_two_neuron_study(
            session, STUDY_SIZE, seed=1000, training={"max_steps": STUDY_STEPS}, name="test"
        )[0].id
    with bound_to(Settings(database_url=postgres_url)):
        run_two_neuron_study(study_id)
    with session_scope(sessions) as session:
        study = session.get(TwoNeuronStudyRow, study_id)
        weights = study_weights(session, study_id)
        summary = two_neuron_regime_summary(session, study_id)
        assert (study.status, study.attempts, study.error) == (study_status(summary), 1, None)
        assert study.progress["max_steps"] == STUDY_STEPS
    assert weights.final_w.shape == (STUDY_SIZE, 2, 2)
    assert not np.array_equal(weights.initial_w, weights.final_w)
    assert (summary.n, summary.solved) == (STUDY_SIZE, int(weights.solved.sum()))
    by_eigenvalues = eigenvalue_regimes(weights.final_w)
    by_dynamics = dynamic_regimes(weights.final_w).regimes
    assert summary.eigenvalue_rule.regimes_all == regime_counts(by_eigenvalues)
    assert summary.eigenvalue_rule.regimes_solved == regime_counts(by_eigenvalues[weights.solved])
    assert summary.dynamics.regimes_all == {
        **regime_counts(by_dynamics),
        "undetermined": int((by_dynamics == "undetermined").sum()),
    }
    assert summary.agreement == pytest.approx(np.mean(by_eigenvalues == by_dynamics))
    assert sorted(summary.maps) == ["off_diagonal", "trace_determinant"]
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in summary.maps.values())
    assert summary.to_dict()["maps"] == ["off_diagonal", "trace_determinant"]

    # Redelivered after a crash that came once the population was stored: only classified
    # again, no network stored twice.
    with session_scope(sessions) as session:
        session.execute(
            update(TwoNeuronStudyRow)
            .where(TwoNeuronStudyRow.id == study_id)
            .values(status="running")
        )
        session.execute(
            update(TwoNeuronNetwork)
            .where(TwoNeuronNetwork.study_id == study_id)
            .values(regime=None, dynamic_regime=None)
        )
    with bound_to(Settings(database_url=postgres_url)):
        run_two_neuron_study(study_id)
    with session_scope(sessions) as session:
        assert session.get(TwoNeuronStudyRow, study_id).status == study_status(summary)
        again = two_neuron_regime_summary(session, study_id)
        assert (
            session.scalar(select(func.count()).where(TwoNeuronNetwork.study_id == study_id))
            == STUDY_SIZE
        )
    assert again.eigenvalue_rule == summary.eigenvalue_rule
    assert again.dynamics == summary.dynamics


def test_two_neuron_study_through_the_embedded_dispatch(tmp_path):
    """With no broker the study runs on the in-process job thread, like training."""
    settings = Settings(data_dir=tmp_path, torch_threads=1)
    migrate(settings.database_url)
    sessions = sessions_for(settings.database_url)
    with session_scope(sessions) as session:
        study_id = create_two_neuron_study(session, 40, training={"max_steps": 10})[0].id
    dispatch.enqueue_two_neuron_study(study_id, settings)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with session_scope(sessions) as session:
                if session.get(TwoNeuronStudyRow, study_id).status in FINISHED:
                    break
            time.sleep(0.2)
    finally:
        dispatch.shutdown(wait=True)
    with session_scope(sessions) as session:
        summary = two_neuron_regime_summary(session)
    assert summary.study_id == study_id and summary.status == study_status(summary)
    assert summary.n == 40 and sum(summary.eigenvalue_rule.regimes_all.values()) == 40


@pytest.mark.postgresql
@pytest.mark.redis
@pytest.mark.slow
def test_two_neuron_study_on_a_live_celery_worker(postgres_url, service_settings, tmp_path):  # noqa: F811
    """With a broker the study is a Celery task like training: a worker process runs it."""
    settings = service_settings(postgres_url)
    sessions = sessions_for(postgres_url)
    with session_scope(sessions) as session:
        study_id = create_two_neuron_study(session, 30, seed=7, training={"max_steps": 5})[0].id
    dispatch.enqueue_two_neuron_study(study_id, settings)
    log = tmp_path / "worker.log"

    def finished() -> bool:
        with session_scope(sessions) as session:
            return session.get(TwoNeuronStudyRow, study_id).status in FINISHED

    with worker_process([*celery_worker("study"), settings.queue], settings, log):
        wait_for(finished, "the study", log)
    with session_scope(sessions) as session:
        study, summary = (
            session.get(TwoNeuronStudyRow, study_id),
            two_neuron_regime_summary(session, study_id),
        )
        assert study.status == study_status(summary)
        assert study.error == (None if summary.solved else f"all {summary.n} networks failed")
        assert summary.n == 30
