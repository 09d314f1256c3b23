"""Datasets: export then import into a fresh database (SQLite to PostgreSQL) gives the same
weights byte for byte, the same analyses and the same types; a tampered or malicious dataset
is refused with an error naming the problem, and nothing is written.

The source atlas holds three of the paper's reference networks, imported and analysed by the
real analysis steps, and two networks trained by the atlas (initial, intermediate and final
weights, loss curves) left unanalysed, so that both import paths are exercised.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import tarfile
import threading
import zipfile
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
import torch
from migrated_app import migrated_app_client
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors
from sqlalchemy import func, select
from throwaway_databases import postgres_database, sqlite_url

from atlas.cli import main as atlas_main
from atlas.config import Settings
from atlas.datasets import (
    DatasetError,
    Limits,
    archive_bytes,
    network_key,
    parse_dataset,
    read_files,
)
from atlas.datasets.files import manifest
from atlas.datasets.layout import TABLES
from atlas.networks import from_state_dicts, to_torch
from atlas.store import (
    ChartSpec,
    JobSpec,
    SettingSpec,
    chart_export,
    chart_record,
    extrapolation_signature,
    fixed_point_analysis,
    limit_cycles,
    make_engine,
    migrate,
    network_features,
    reduced_graph,
    save_imported_network,
    session_factory,
    session_scope,
)
from atlas.store.arrays import arrays_from_blob
from atlas.store.charts import attach_networks, complete_chart, create_chart
from atlas.store.datasets import DATASET_STEPS, export_dataset, import_dataset
from atlas.store.jobs import create_job
from atlas.store.models import (
    AnalysisRun,
    Chart,
    CheckpointRow,
    Network,
    SolutionType,
    ValidationResult,
)
from atlas.store.task_records import ensure_task
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse
from worker import tasks
from worker.database import bound_to
from worker.steps import STEPS

REFERENCES = ("delayed_vanilla_20_i100", "interval_vanilla_20_i100", "reproduction_lstm_20_i100")
SMALL_DELAYED = {"f_max": 5, "delay_max": 2}
# The bomb test need not inflate 128 MiB; the API's bound on units.
SMALL_LIMITS = Limits(max_file_bytes=4 * 2**20, max_units=512)


def _sessions(url: str):
    return session_factory(make_engine(url))


@pytest.fixture(scope="module")
def source(tmp_path_factory, reference_networks) -> str:
    """An SQLite atlas with three analysed reference networks and two trained, unanalysed."""
    folder = tmp_path_factory.mktemp("source")
    url = sqlite_url(folder)
    migrate(url)
    settings = Settings(database_url=url, data_dir=folder, device="cpu", torch_threads=1)
    sessions = _sessions(url)
    ids = []
    for ref in (r for r in reference_networks if r.name in REFERENCES):
        task = get_task(ref.task)
        loss = float(population_mse(from_state_dicts([ref.state_dict]), task.validation_set())[0])
        with session_scope(sessions) as session:
            ids.append(save_imported_network(session, task, ref.state_dict, loss, name=ref.name).id)
    spec = JobSpec("delayed", "vanilla", 8, count=2, seed=3, task_parameters=SMALL_DELAYED,
                   training={"max_epochs": 25, "checkpoint_every": 10})  # fmt: skip
    with session_scope(sessions) as session:
        job_id = create_job(session, spec)[0].id
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with bound_to(settings):
            tasks.train_job(job_id)
            for network_id in ids:
                tasks.analyse_network(network_id)
    finally:
        torch.set_num_threads(threads)
    return url


def _export(url: str, ids: list[int] | None = None, **options) -> dict[str, bytes]:
    with session_scope(_sessions(url)) as session:
        ids = ids or list(session.scalars(select(Network.id).order_by(Network.id)))
        return export_dataset(session, ids, title="test", selection={"kind": "query"}, **options)


@pytest.fixture(scope="module")
def exported(source) -> dict[str, bytes]:
    return _export(source, checkpoints=True)


def _weights(session, network: Network) -> list[tuple]:
    return [
        (c.kind, c.epoch, c.loss,
         {k: (v.dtype, v.tobytes()) for k, v in arrays_from_blob(c.weights).items()})
        for c in sorted(network.checkpoints, key=lambda c: (c.epoch, c.kind))
    ]  # fmt: skip


def _same_arrays(a, b, exact: bool = True) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if not exact:
        return np.allclose(a, b, rtol=0, atol=1e-12)
    if a.dtype != b.dtype:
        return False
    if a.dtype.kind not in "fc":
        return np.array_equal(a, b)
    a, b = (
        a.view(np.float64) if a.dtype.kind == "c" else a,
        b.view(np.float64) if b.dtype.kind == "c" else b,
    )
    nan = np.isnan(a)  # bit for bit (-0.0 is not 0.0) apart from NaN payloads
    return np.array_equal(nan, np.isnan(b)) and a[~nan].tobytes() == b[~nan].tobytes()


def contents(url: str) -> dict[str, dict]:
    """Everything an atlas holds about its networks, keyed by each one's content key."""
    out = {}
    with session_scope(_sessions(url)) as session:
        for network in session.scalars(select(Network)):
            final = arrays_from_blob(
                next(c for c in network.checkpoints if c.kind == "final").weights
            )
            key = network_key(network.task, network.task_parameters, network.architecture, final)
            validation = session.scalars(
                select(ValidationResult).where(ValidationResult.network_id == network.id)
            ).one_or_none()
            runs = {
                r.step: (r.status, r.summary if r.step != "solution_type" else r.summary["type"])
                for r in session.scalars(
                    select(AnalysisRun).where(AnalysisRun.network_id == network.id))
            }  # fmt: skip
            solution_type = network.solution_type
            out[key] = {
                "record": (network.task, network.task_parameters, network.architecture,
                           network.units, network.name, network.seed, network.status,
                           network.epochs, network.steps, network.best_loss,
                           network.final_loss, network.validation_loss, network.loss_curve,
                           network.analysis_status),
                "weights": _weights(session, network),
                "validation": validation and (validation.loss, validation.trial_errors,
                                              arrays_from_blob(validation.conditions)),
                "runs": runs,
                "fixed_points": fixed_point_analysis(session, network.id),
                "cycles": limit_cycles(session, network.id),
                "signature": extrapolation_signature(session, network.id),
                "graph": reduced_graph(session, network.id),
                "features": network_features(session, network.id),
                "type": solution_type and (solution_type.name, solution_type.canonical_hash,
                                           solution_type.graph, solution_type.member_count),
            }  # fmt: skip
    return out


def assert_same_atlas(a: dict, b: dict, exact_jacobians: bool) -> None:
    assert a.keys() == b.keys()
    for key, x in a.items():
        y = b[key]
        for part in ("record", "weights", "runs", "graph", "type"):
            assert x[part] == y[part], (key, part)
        if x["validation"] is None:
            assert y["validation"] is None
        else:
            assert x["validation"][:2] == y["validation"][:2]
            assert x["validation"][2].keys() == y["validation"][2].keys()
        assert (x["features"] is None) == (y["features"] is None)
        if x["features"] is not None:
            assert list(x["features"]) == list(y["features"])
            assert _same_arrays(list(x["features"].values()), list(y["features"].values()))
        assert (x["fixed_points"] is None) == (y["fixed_points"] is None)
        points_x = x["fixed_points"].conditions if x["fixed_points"] else []
        points_y = y["fixed_points"].conditions if y["fixed_points"] else []
        for cx, cy in zip(points_x, points_y, strict=True):
            assert cx.label == cy.label and _same_arrays(cx.inputs, cy.inputs)
            for name in ("states", "q", "outputs", "eigenvalues", "stable", "kinds"):
                assert _same_arrays(getattr(cx.points, name), getattr(cy.points, name)), name
            assert _same_arrays(cx.points.jacobians, cy.points.jacobians, exact_jacobians)
        for ex, ey in zip(x["cycles"] or [], y["cycles"] or [], strict=True):
            assert (ex.condition, ex.inputs) == (ey.condition, ey.inputs)
            for lx, ly in zip(ex.cycles, ey.cycles, strict=True):
                assert (lx.period, lx.diameter, lx.closing_error) == (
                    ly.period,
                    ly.diameter,
                    ly.closing_error,
                )
                assert _same_arrays(lx.states, ly.states) and _same_arrays(lx.outputs, ly.outputs)
        assert (x["signature"] is None) == (y["signature"] is None)
        if x["signature"] is not None:
            sx, sy = x["signature"], y["signature"]
            assert sx.arrays.keys() == sy.arrays.keys()
            assert all(_same_arrays(sx.arrays[k], sy.arrays[k]) for k in sx.arrays)
            assert sx.summary.keys() == sy.summary.keys()  # (JSONB keeps keys in its own order)
            assert _same_arrays(
                [sx.summary[k] for k in sx.summary], [sy.summary[k] for k in sx.summary]
            )


def test_analysis_steps_are_the_ones_a_dataset_carries():
    assert tuple(step.name for step in STEPS) == DATASET_STEPS


@pytest.mark.postgresql
def test_export_then_import_into_fresh_postgres_reproduces_the_atlas(source, exported):
    dataset = parse_dataset(exported)
    assert len(dataset.tables["networks"]) == 5
    with postgres_database() as url:
        migrate(url)
        with session_scope(_sessions(url)) as session:
            report = import_dataset(session, dataset)
        assert (len(report.created), report.existing) == (5, [])
        assert len(report.to_analyse) == 2  # the trained ones came unanalysed
        imported = contents(url)
        original = contents(source)
        for key in imported:  # the unanalysed pair stays pending, to be analysed here
            if original[key]["record"][-1] == "pending":
                assert imported[key]["record"][-1] == "pending"
        assert_same_atlas(original, imported, exact_jacobians=False)
        with session_scope(_sessions(url)) as session:
            types = {t.name: t.member_count for t in session.scalars(select(SolutionType))}
            intermediate = session.scalar(
                select(func.count()).where(CheckpointRow.kind == "intermediate")
            )
        assert len(types) == 3 and set(report.types) == set(types)
        assert intermediate == 4  # two trained networks, checkpoints at epochs 10 and 20

        # Importing it again (as an archive this time) duplicates nothing.
        again = parse_dataset(read_files(archive_bytes(exported, "again", "tar.gz")))
        with session_scope(_sessions(url)) as session:
            second = import_dataset(session, again)
            count = session.scalar(select(func.count()).select_from(Network))
        assert (second.created, sorted(second.existing), count) == ([], sorted(report.created), 5)


def test_jacobians_exported_come_back_exactly(source, tmp_path):
    url = sqlite_url(tmp_path)
    migrate(url)
    with session_scope(_sessions(url)) as session:
        import_dataset(session, parse_dataset(_export(source, jacobians=True)))
    original = contents(source)
    imported = contents(url)
    for entry in original.values():  # without --checkpoints: initial and final only
        entry["weights"] = [w for w in entry["weights"] if w[0] != "intermediate"]
    assert_same_atlas(original, imported, exact_jacobians=True)


def test_a_reader_needs_only_pandas_style_json_and_safetensors(exported, reference_networks):
    """The layout as documented: tables are JSON lists of flat rows, weights plain state
    dicts that to_torch (or nn.RNN + nn.Linear) load."""
    networks = json.loads(exported["networks.json"])
    by_name = {row["name"]: row for row in networks}
    reference = next(r for r in reference_networks if r.name == REFERENCES[0])
    row = by_name[reference.name]
    weights = load_tensors(exported[f"networks/{row['network']}/final.safetensors"])
    for key, value in reference.state_dict.items():
        assert np.array_equal(weights[key], value.numpy())
    module = to_torch({k: torch.from_numpy(v) for k, v in weights.items()})
    assert module.rnn.hidden_size == 20
    readme = exported["README.md"].decode()
    docs = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    for table in TABLES:
        assert table.file in readme and table.file in docs
        for column in table.columns:
            assert f"`{column.name}`" in docs, (table.name, column.name)


# --------------------------------------------------------------------------- refusals


def _resealed(files: dict[str, bytes], changes: dict[str, bytes | None]) -> dict[str, bytes]:
    """The files with `changes` applied (None deletes) and the manifest rewritten to match:
    what someone who edits a dataset on purpose would do."""
    files = {**files}
    for path, data in changes.items():
        if data is None:
            files.pop(path)
        else:
            files[path] = data
    head = json.loads(files["dataset.json"])
    head["files"] = manifest({p: d for p, d in files.items() if p != "dataset.json"})
    files["dataset.json"] = json.dumps(head).encode()
    return files


def _first(exported: dict[str, bytes], name: str) -> dict:
    return next(r for r in json.loads(exported["networks.json"]) if r["name"] == name)


class _Exploit:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('ran')",))


def _tampered(exported: dict[str, bytes]) -> list[tuple[str, dict[str, bytes] | bytes, str]]:
    row = _first(exported, REFERENCES[0])
    final = f"networks/{row['network']}/final.safetensors"
    analyses = f"networks/{row['network']}/analyses.safetensors"
    weights = load_tensors(exported[final])
    scaled = {k: v * np.float32(1.01) for k, v in weights.items()}
    arrays = load_tensors(exported[analyses])
    arrays["fixed_points.eigenvalues"] = arrays["fixed_points.eigenvalues"] * 1.5
    rows = json.loads(exported["networks.json"])
    rows[0]["key"] = network_key(row["task"], row["task_parameters"], row["architecture"], scaled)
    rekeyed = [dict(r, key=network_key(r["task"], r["task_parameters"], r["architecture"], scaled))
               if r["network"] == row["network"] else r for r in rows]  # fmt: skip
    unknown_task = [dict(r, task="juggling") if r["network"] == row["network"] else r for r in rows]
    pickled = io.BytesIO()
    pickle.dump({"rnn.weight_ih_l0": _Exploit()}, pickled)
    flipped = bytearray(exported[final])
    flipped[-1] ^= 1
    return [
        ("a flipped bit", {**exported, final: bytes(flipped)}, "does not match its SHA-256"),
        ("an added file", {**exported, "notes.txt": b"hi"}, "not in the manifest"),
        ("a removed file", {k: v for k, v in exported.items() if k != final}, "missing"),
        ("weights edited, manifest resealed",
         _resealed(exported, {final: save_tensors(scaled)}), "content key"),
        ("weights and key edited, resealed",
         _resealed(exported, {final: save_tensors(scaled),
                              "networks.json": json.dumps(rekeyed).encode()}),
         "validation loss"),
        ("eigenvalues edited, resealed",
         _resealed(exported, {analyses: save_tensors(arrays)}), "eigenvalues"),
        ("a pickle for weights", _resealed(exported, {final: pickled.getvalue()}), "safetensors"),
        ("an unknown task",
         _resealed(exported, {"networks.json": json.dumps(unknown_task).encode()}), "juggling"),
        ("NaN in a table",
         _resealed(exported, {"validation.json": b'[{"network": "n0001", "loss": NaN}]'}),
         "not valid JSON"),
        ("not a dataset", b"PK\x03\x04 garbage", "archive"),
        ("too large a network", _resealed(exported, {"networks.json": json.dumps(
            [dict(r, units=10**6) for r in rows]).encode()}), "more than 512 units"),
    ]  # fmt: skip


def _malicious_archives(exported: dict[str, bytes]) -> list[tuple[str, bytes, str]]:
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as archive:
        for name, data in exported.items():
            archive.writestr(f"d/{name}", data)
        archive.writestr("d/../../evil.txt", b"outside")
    link = io.BytesIO()
    with tarfile.open(fileobj=link, mode="w") as archive:
        for name, data in exported.items():
            info = tarfile.TarInfo(f"d/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("d/networks/n0001/initial.safetensors")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(info)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("d/dataset.json", b"0" * (2 * SMALL_LIMITS.max_file_bytes))
    return [
        ("a path out of the dataset", traversal.getvalue(), "unsafe path"),
        ("a symbolic link", link.getvalue(), "link"),
        ("a decompression bomb", bomb.getvalue(), "larger than"),
    ]


def _network_count(url: str) -> int:
    with session_scope(_sessions(url)) as session:
        return session.scalar(select(func.count()).select_from(Network)) + session.scalar(
            select(func.count()).select_from(SolutionType)
        )


def test_tampered_or_malicious_datasets_are_refused_and_nothing_is_written(
    source, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    url = sqlite_url(tmp_path)
    migrate(url)
    exported = _export(source, [1, 4])  # two networks: quick to check
    cases = _tampered(exported) + _malicious_archives(exported)
    for what, files, message in cases:
        payload = files if isinstance(files, bytes) else archive_bytes(files, "d", "zip")
        with pytest.raises(DatasetError, match=message), session_scope(_sessions(url)) as session:
            import_dataset(session, parse_dataset(read_files(payload, SMALL_LIMITS)), SMALL_LIMITS)
        assert _network_count(url) == 0, what
    assert not (tmp_path / "PWNED").exists() and not (tmp_path.parent / "evil.txt").exists()


# --------------------------------------------------------------------------- CLI


def test_cli_exports_a_query_and_imports_it_once(source, tmp_path, capsys):
    out = tmp_path / "delayed"
    code = atlas_main(["export", "--out", str(out), "--task", "delayed", "--status", "converged",
                       "--archive", "zip", "--database-url", source])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    networks = json.loads((out / "networks.json").read_text())
    assert [row["name"] for row in networks] == [REFERENCES[0]]
    assert json.loads((out / "dataset.json").read_text())["selection"]["filters"] == {
        "task": "delayed",
        "status": "converged",
    }
    target = sqlite_url(tmp_path / "target")
    assert atlas_main(["migrate", "--database-url", target]) == 0
    assert atlas_main(["import", str(tmp_path / "delayed.zip"), "--database-url", target]) == 0
    assert "1 networks imported" in capsys.readouterr().out
    assert atlas_main(["import", str(out), "--database-url", target]) == 0
    assert "0 networks imported, 1 already in the atlas" in capsys.readouterr().out

    (out / "types.json").write_text("[]")
    assert atlas_main(["import", str(out), "--database-url", target]) == 2
    err = capsys.readouterr().err
    assert "types.json does not match its SHA-256" in err and "nothing was imported" in err
    assert atlas_main(["export", "--out", str(tmp_path / "none"), "--task", "interval",
                       "--units", "999", "--database-url", source]) == 2  # fmt: skip
    assert "no networks match" in capsys.readouterr().err
    assert math.isfinite(networks[0]["validation_loss"])

    # The trained pair comes unanalysed: without a broker the command analyses it itself.
    trained = tmp_path / "trained"
    assert atlas_main(["export", "--out", str(trained), "--source", "trained",
                       "--database-url", source]) == 0  # fmt: skip
    assert atlas_main(["import", str(trained), str(tmp_path / "delayed.zip"),
                       "--database-url", target]) == 0  # fmt: skip
    with session_scope(_sessions(target)) as session:
        states = session.scalars(select(Network.analysis_status).order_by(Network.id)).all()
    assert states == ["done", "done", "done"]


# --------------------------------------------------------------------------- API

API_KEY = "datasets-key-0123456789"


def test_api_imports_an_archive_once_and_refuses_bad_ones(source, tmp_path):
    archive = archive_bytes(_export(source, [1, 2]), "two", "zip")
    with migrated_app_client("sqlite", tmp_path, API_KEY) as client:

        def post(payload: bytes, key: str | None = API_KEY):
            headers = {"X-API-Key": key} if key else {}
            files = {"file": ("two.zip", payload, "application/zip")}
            return client.post("/datasets/import", files=files, headers=headers)

        assert post(archive, key=None).status_code == 401
        first = post(archive)
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["networks"], len(body["created"]), body["existing"]) == (2, 2, [])
        assert body["analysing"] == [] and sum(body["types"].values()) == 2
        solution = client.get(body["solutions"]["n0001"]).json()
        assert solution["analysis_status"] == "done" and solution["solution_type"] in body["types"]
        assert solution["source"] == "imported"

        again = post(archive)
        assert again.status_code == 200 and again.json()["existing"] == body["created"]

        files = dict(read_files(archive))
        files["types.json"] = b"[]"
        for payload, status, words in [
            (archive_bytes(files, "two", "zip"), 422, "types.json does not match its SHA-256"),
            (b"not an archive at all", 422, "not a readable"),
            (b"0" * (16 * 2**20 + 1), 413, "limited to"),
        ]:
            refused = post(payload)
            assert refused.status_code == status, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert words in refused.json()["detail"]
        listed = client.get("/solutions").json()["items"]
        assert sorted(s["id"] for s in listed) == sorted(body["created"])


# --------------------------------------------------------------------------- charts


def test_a_charts_dataset_recreates_the_chart_once(source, tmp_path, capsys):
    with session_scope(_sessions(source)) as session:
        spec = ChartSpec("delayed", (SettingSpec("vanilla", 20),), networks_per_setting=1)
        chart, _ = create_chart(session, spec, idempotency_key="datasets-test-chart")
        delayed = session.scalar(select(Network.id).where(Network.name == REFERENCES[0]))
        if chart.status == "running":
            attach_networks(session, chart.id, 0, [delayed])
            complete_chart(session, chart.id)
        chart_id = chart.id
        original = chart_record(session, chart_id)
    out = tmp_path / "chart"
    assert atlas_main(["export", "--chart", str(chart_id), "--out", str(out),
                       "--database-url", source]) == 0  # fmt: skip
    document = json.loads((out / "chart.json").read_text())
    assert document["members"] == {"n0001": 0} and document["chart"]["task"] == "delayed"
    target = sqlite_url(tmp_path / "target")
    migrate(target)
    for _ in range(2):
        with session_scope(_sessions(target)) as session:
            report = import_dataset(session, parse_dataset(read_files(out)))
    with session_scope(_sessions(target)) as session:
        copy = chart_record(session, report.chart_id)
        charts = session.scalar(select(func.count()).select_from(Chart))
    assert charts == 1 and copy.status == original.status == "succeeded"
    progress = [(s.architecture, s.units, s.accepted, s.typed) for s in copy.settings]
    assert progress == [(s.architecture, s.units, s.accepted, s.typed) for s in original.settings]
    assert progress == [("vanilla", 20, 1, 1)]


@pytest.mark.postgresql
def test_two_imports_of_one_dataset_at_once_write_it_once(source):
    """PostgreSQL: each import finds the other's networks only after it commits; the per-task
    lock makes the second wait, then find them, rather than write them again."""
    dataset = parse_dataset(_export(source, [2, 4]))
    with postgres_database() as url:
        migrate(url)
        sessions = _sessions(url)
        with session_scope(sessions) as session:  # task rows there: no insert to wait on
            for task in ("interval", "delayed"):
                ensure_task(session, get_task(task))
        barrier = threading.Barrier(2)
        reports = []

        def run() -> None:
            barrier.wait()
            with session_scope(sessions) as session:
                reports.append(import_dataset(session, dataset))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with session_scope(sessions) as session:
            count = session.scalar(select(func.count()).select_from(Network))
        assert count == 2 and sorted(len(r.created) for r in reports) == [0, 2]


def _chart_progress(record) -> list[tuple]:
    """Per setting: architecture, units, seeds used, trained, accepted, failed."""
    return [(s.architecture, s.units, s.seeds_used, s.trained, s.accepted, s.failed)
            for s in record.settings]  # fmt: skip


def _times(record) -> tuple:
    """Created, started and finished as naive UTC (SQLite reads back naive times; a session
    still holding what it wrote has aware ones)."""
    times = (record.created_at, record.started_at, record.finished_at)
    return tuple(t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t for t in times)


def _in_order(record) -> bool:
    created, started, finished = _times(record)
    return created <= started <= finished


def test_a_charts_dataset_keeps_its_progress_and_times(tmp_path, reference_networks):
    """A chart whose setting trained networks it did not accept: the dataset carries only the
    accepted one, yet the imported chart keeps the seeds used, networks trained, accepted and
    failed, and the times it was charted (created <= started <= finished)."""
    (ref,) = [r for r in reference_networks if r.name == REFERENCES[0]]
    task = get_task(ref.task)
    source = sqlite_url(tmp_path / "source")
    migrate(source)
    with session_scope(_sessions(source)) as session:
        ids = []
        for scale in (1.0, 0.0, 0.5):  # the reference solves the task; scaled, it does not
            weights = {name: tensor * scale for name, tensor in ref.state_dict.items()}
            loss = float(population_mse(from_state_dicts([weights]), task.validation_set())[0])
            assert (loss < 2e-4) == (scale == 1.0)
            ids.append(save_imported_network(session, task, weights, loss).id)
        spec = ChartSpec("delayed", (SettingSpec("vanilla", 20),), networks_per_setting=1)
        chart, _ = create_chart(session, spec)
        attach_networks(session, chart.id, 0, ids[:2])  # two chunks, as a chart trains them
        attach_networks(session, chart.id, 0, ids[2:])
        assert complete_chart(session, chart.id) == "succeeded"
        original = chart_record(session, chart.id)
        network_ids, document = chart_export(session, chart.id)
        files = export_dataset(session, network_ids, title="chart", selection={"chart": 1},
                               chart=document)  # fmt: skip
    assert _chart_progress(original) == [("vanilla", 20, 3, 3, 1, 2)] and _in_order(original)
    assert len(network_ids) == 1  # the accepted network only
    target = sqlite_url(tmp_path / "target")
    migrate(target)
    for _ in range(2):  # a second import changes nothing
        with session_scope(_sessions(target)) as session:
            report = import_dataset(session, parse_dataset(files))
    with session_scope(_sessions(target)) as session:
        copy = chart_record(session, report.chart_id)
        assert session.scalar(select(func.count()).select_from(Chart)) == 1
    assert copy.status == original.status == "succeeded"
    assert _chart_progress(copy) == _chart_progress(original)
    assert [s.state for s in copy.settings] == ["reached"]
    assert _times(copy) == _times(original) and _in_order(copy)


SHIPPED_CHARTS = sorted((Path(__file__).parents[2] / "charts").glob("*.zip"))


@pytest.mark.parametrize("path", SHIPPED_CHARTS, ids=[p.stem for p in SHIPPED_CHARTS])
def test_a_shipped_chart_imports_with_the_numbers_its_dataset_states(path, tmp_path):
    """charts/*.zip carry their accepted networks only; imported, each setting shows the seeds
    used, networks trained, accepted and failed, and the times, that its chart.json states."""
    dataset = parse_dataset(read_files(path))
    document = dataset.document("chart.json")
    url = sqlite_url(tmp_path)
    migrate(url)
    with session_scope(_sessions(url)) as session:
        record = chart_record(session, import_dataset(session, dataset).chart_id)
    names = ("architecture", "units", "seeds_used", "trained", "accepted", "failed")
    stated = [tuple(s[name] for name in names) for s in document["settings"]]
    assert _chart_progress(record) == stated
    assert [s.state for s in record.settings] == [s["state"] for s in document["settings"]]
    assert record.status == document["chart"]["status"] and _in_order(record)
    created, _, finished = _times(record)
    assert (created.isoformat(), finished.isoformat()) == (
        document["chart"]["created_at"], document["chart"]["finished_at"]
    )  # fmt: skip
    assert all(s["trained"] > s["accepted"] for s in document["settings"])  # some not carried
