"""Alembic makes the schema: upgrade, downgrade to base, upgrade again, on SQLite and PostgreSQL,
and the migrated schema is exactly the models' (autogenerate finds nothing to do); revisions
that move data keep it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session
from throwaway_databases import BACKENDS, database

from atlas.cli import main as atlas_main
from atlas.store import (
    SchemaOutOfDateError,
    chart_record,
    check_schema_current,
    import_network,
    make_engine,
    migrate,
    save_imported_network,
    session_factory,
    session_scope,
    submit_study,
)
from atlas.store.arrays import arrays_to_blob
from atlas.store.charts import ChartSpec, SettingSpec, attach_networks, create_chart
from atlas.store.models import Base, ChartChunk, Job, Network, SolutionType, TwoNeuronStudyRow
from atlas.store.networks import imported_content_key
from atlas.store.schema import ROOT, head_revision
from atlas.tasks import DEFAULT_VARIANT, get_task, variant_key

ON_EACH_BACKEND = pytest.mark.parametrize("backend", BACKENDS)


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def schema_diff(engine) -> list:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


@ON_EACH_BACKEND
def test_upgrade_downgrade_upgrade_matches_models(backend, tmp_path):
    with database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            with pytest.raises(SchemaOutOfDateError, match="run `atlas migrate`"):
                check_schema_current(engine)

            assert migrate(url) == head_revision()
            check_schema_current(engine)
            assert tables(engine) == set(Base.metadata.tables)
            assert schema_diff(engine) == []

            assert migrate(url, "base") is None
            assert tables(engine) == set()
            with pytest.raises(SchemaOutOfDateError, match=r"at nothing .* code needs"):
                check_schema_current(engine)

            assert migrate(url, "head") == head_revision()
            assert schema_diff(engine) == []
            check_schema_current(engine)
        finally:
            engine.dispose()


@ON_EACH_BACKEND
def test_atlas_migrate_command(backend, tmp_path, capsys):
    with database(backend, tmp_path) as url:
        assert atlas_main(["migrate", "--database-url", url]) == 0
        assert f"at revision {head_revision()}" in capsys.readouterr().out
        assert atlas_main(["migrate", "--database-url", url, "--revision", "nosuchrev"]) == 2
        assert "unknown revision 'nosuchrev'" in capsys.readouterr().err
        assert atlas_main(["migrate", "--database-url", url, "--revision", "base"]) == 0
        engine = make_engine(url)
        try:
            assert tables(engine) == set()
        finally:
            engine.dispose()


def test_plain_alembic_command_line(tmp_path):
    """`alembic -x url=... upgrade head` from the project root works as well as `atlas migrate`
    (env.py's own URL handling; one backend is enough, the migration itself is tested above)."""
    with database("sqlite", tmp_path) as url:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        engine = make_engine(url)
        try:
            check_schema_current(engine)
        finally:
            engine.dispose()


def insert_delayed_task(connection) -> None:
    """The `delayed` task's row, written in SQL as an older revision's schema holds it."""
    connection.execute(
        text(
            "INSERT INTO tasks (name, long_name, kind, description, parameters) "
            "VALUES ('delayed', 'delayed discrimination', 'trial', '-', :p)"
        ),
        {"p": json.dumps(get_task("delayed").parameters())},
    )


@ON_EACH_BACKEND
def test_types_stored_before_variants_become_the_default_variant(backend, tmp_path):
    """0003 gives existing types (all of default parameters) the `default` variant and their
    task's parameters; downgrading drops the types of other variants and keeps the rest."""
    parameters = get_task("delayed").parameters()
    with database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(url, "0002")
            with engine.begin() as connection:
                insert_delayed_task(connection)
                connection.execute(
                    text(
                        "INSERT INTO solution_types "
                        "(task, name, canonical_hash, graph, member_count, created_at) "
                        "VALUES ('delayed', 'delayed-0000aaaa', 'aaaa', '{}', 0, :now)"
                    ),
                    {"now": datetime.now(UTC)},
                )
            migrate(url, "head")
            assert schema_diff(engine) == []
            with Session(engine) as session:
                (old,) = session.scalars(select(SolutionType)).all()
                assert old.variant == DEFAULT_VARIANT and old.task_parameters == parameters
                shortened = get_task("delayed", delay_max=2)
                session.add(
                    SolutionType(
                        task="delayed",
                        variant=variant_key(shortened),
                        task_parameters=shortened.parameters(),
                        name="delayed.other-0000bbbb",
                        canonical_hash="bbbb",
                        graph={},
                    )
                )
                session.commit()
            migrate(url, "0002")
            with engine.connect() as connection:
                names = connection.execute(text("SELECT name FROM solution_types")).scalars()
                assert list(names) == ["delayed-0000aaaa"]
        finally:
            engine.dispose()


@ON_EACH_BACKEND
def test_imported_networks_stored_before_content_keys_get_theirs(
    backend, tmp_path, reference_networks
):
    """0008 keys the imported networks already stored from their final weights (two imports
    of one network made before it both get the key; importing it again returns the older),
    leaves trained networks without one, and downgrading keeps every network."""
    reference = next(r for r in reference_networks if r.task == "delayed")
    task = get_task("delayed")
    network = (
        "INSERT INTO networks (task, task_parameters, architecture, units, n_inputs, n_outputs,"
        " source, name, info, status, validation_loss, code_version, analysis_status,"
        " created_at) VALUES ('delayed', :p, :a, :u, 2, 1, :source, NULL, '{}', 'converged',"
        " 1e-5, 'old', 'done', :now)"
    )
    checkpoint = (
        "INSERT INTO checkpoints (network_id, kind, epoch, loss, weights) "
        "VALUES (:n, 'final', 0, 1e-5, :w)"
    )
    with database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(url, "0007")
            with engine.begin() as connection:
                insert_delayed_task(connection)
                row = {
                    "p": json.dumps(task.parameters()),
                    "a": reference.architecture,
                    "u": reference.units,
                    "now": datetime.now(UTC),
                }
                for source in ("imported", "imported", "imported", "trained"):
                    connection.execute(text(network), {**row, "source": source})
                ids = list(
                    connection.execute(text("SELECT id FROM networks ORDER BY id")).scalars()
                )
                blobs = [
                    reference.state_dict,
                    reference.state_dict,
                    {k: v * 2 for k, v in reference.state_dict.items()},
                    reference.state_dict,
                ]
                for network_id, weights in zip(ids, blobs, strict=True):
                    connection.execute(
                        text(checkpoint), {"n": network_id, "w": arrays_to_blob(weights)}
                    )
            migrate(url, "head")
            assert schema_diff(engine) == []
            sessions = session_factory(engine)
            with Session(engine) as session:
                keys = {n.id: n.content_key for n in session.scalars(select(Network))}
            expected = imported_content_key(task, reference.state_dict)
            assert [keys[i] for i in ids[:2]] == [expected, expected]
            assert keys[ids[2]] not in (None, expected)
            assert keys[ids[3]] is None  # trained
            assert import_network(sessions, task, reference.state_dict, 1e-5) == (ids[0], False)
            migrate(url, "0007")
            with engine.connect() as connection:
                count = connection.execute(text("SELECT count(*) FROM networks")).scalar()
                assert count == 4
        finally:
            engine.dispose()


@ON_EACH_BACKEND
def test_studies_stored_before_idempotency_keys_keep_theirs_unkeyed(backend, tmp_path):
    """0010 leaves the studies already stored without a key; a key then names one study (a
    replay finds it), and downgrading keeps every study."""
    study = (
        "INSERT INTO two_neuron_studies (task_parameters, training_config, count, code_version,"
        " created_at, seed, status, attempts, progress_fraction, run_seconds)"
        " VALUES ('{}', '{}', 2, 'old', :now, 0, 'succeeded', 1, 1.0, 0.0)"
    )
    with database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(url, "0009")
            with engine.begin() as connection:
                connection.execute(text(study), {"now": datetime.now(UTC)})
            migrate(url, "head")
            assert schema_diff(engine) == []
            sessions = session_factory(engine)
            with Session(engine) as session:
                (old,) = session.scalars(select(TwoNeuronStudyRow)).all()
                assert old.idempotency_key is None
            keyed, created = submit_study(sessions, 2, idempotency_key="migrated")
            replay = submit_study(sessions, 2, idempotency_key="migrated")
            assert created and replay == (keyed, False)
            migrate(url, "0009")
            with engine.connect() as connection:
                count = connection.execute(text("SELECT count(*) FROM two_neuron_studies")).scalar()
                assert count == 2
        finally:
            engine.dispose()


@ON_EACH_BACKEND
def test_imported_chart_chunks_move_what_they_trained_out_of_their_jobs(
    backend, tmp_path, reference_networks
):
    """Before 0011 a chunk imported with 2 of its 5 networks kept 5 in its job's n_saved: the
    upgrade moves it to the chunk (the job then counts the 2 stored), the chart reads the same
    numbers either way, and downgrading moves it back."""
    reference = next(r for r in reference_networks if r.name == "delayed_vanilla_20_i100")
    task = get_task("delayed")
    with database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(url, "head")
            sessions = session_factory(engine)
            with session_scope(sessions) as session:
                spec = ChartSpec(
                    task="delayed",
                    settings=(SettingSpec("vanilla", 20),),
                    networks_per_setting=5,
                )
                chart, _ = create_chart(session, spec)
                ids = [
                    save_imported_network(session, task, reference.state_dict, 1e-5).id
                    for _ in range(2)
                ]
                job_id = attach_networks(session, chart.id, 0, ids, seeds=6, trained=5)
                chart_id = chart.id
            with Session(engine) as session:
                before = chart_record(session, chart_id).settings[0]
            assert (before.seeds_used, before.trained, before.accepted) == (6, 5, 2)
            migrate(url, "0010")
            with engine.connect() as connection:
                saved = "SELECT n_saved FROM jobs WHERE id = :j"
                assert connection.execute(text(saved), {"j": job_id}).scalar() == 5
            migrate(url, "head")
            assert schema_diff(engine) == []
            with Session(engine) as session:
                assert session.get(Job, job_id).n_saved == 2
                (chunk,) = session.scalars(select(ChartChunk)).all()
                assert chunk.trained_elsewhere == 5
                assert chart_record(session, chart_id).settings[0] == before
        finally:
            engine.dispose()
