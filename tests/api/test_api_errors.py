"""Bad input gets a 4xx problem+json (RFC 9457) and writes nothing; writes need the API key;
the app refuses to start on an out-of-date schema. On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import io
import os
import pickle
import time
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from throwaway_databases import BACKENDS, database

from api.app import MAX_BODY_BYTES, create_app
from api.problems import RETRY_AFTER_S
from api.schemas.jobs import JobIn
from api.schemas.two_neuron import StudyIn
from atlas.config import Settings
from atlas.store import SchemaOutOfDateError, migrate, submit_job, submit_study
from atlas.store.jobs import JobSpec
from atlas.store.models import (
    AnalysisRun,
    CheckpointRow,
    Job,
    Network,
    TaskRecord,
    TwoNeuronStudyRow,
)

API_KEY = "errors-key-9876543210"
WRITE = {"X-API-Key": API_KEY}
GOOD_JOB = {"task": "delayed", "architecture": "vanilla", "units": 20, "count": 4, "seed": 0}
QUICK_JOB = {
    **GOOD_JOB,
    "count": 1,
    "task_parameters": {"f_max": 4, "delay_max": 1},
    "training": {"max_epochs": 1},
}
QUICK_STUDY = {"count": 1, "training": {"max_steps": 1}}
TABLES = (Job, Network, CheckpointRow, AnalysisRun, TaskRecord, TwoNeuronStudyRow)
IDLE_TIMEOUT_S = 180


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, tmp_path_factory):
    """(client, database URL) with two reference networks imported, so listings have pages."""
    folder = tmp_path_factory.mktemp(request.param)
    with database(request.param, folder) as url:
        migrate(url)
        settings = Settings(database_url=url, api_key=API_KEY, data_dir=folder, torch_threads=1)
        with TestClient(create_app(settings)) as client:
            yield client, url


@pytest.fixture(scope="module")
def client(service, reference_networks):
    client, _ = service
    for reference in [r for r in reference_networks if r.task == "delayed"][:2]:
        response = client.post(
            "/solutions/import",
            headers=WRITE,
            data={"task": "delayed"},
            files={"file": ("w.pt", reference.weights_path.read_bytes())},
        )
        assert response.status_code == 201, response.text
    wait_until_idle(client)
    return client


def wait_until_idle(client: TestClient) -> None:
    """Wait for the in-process jobs and analyses to finish, so row counts hold still."""
    busy_jobs = select(func.count()).where(Job.status.in_(("queued", "running")))
    busy_networks = select(func.count()).where(Network.analysis_status.in_(("pending", "running")))
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while time.monotonic() < deadline:
        with client.app.state.sessions() as session:
            if session.scalar(busy_jobs) == 0 and session.scalar(busy_networks) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"jobs or analyses still running after {IDLE_TIMEOUT_S} s")


def row_counts(client: TestClient) -> dict[str, int]:
    with client.app.state.sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in TABLES
        }


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("https://")
    if slug is not None:
        assert body["type"].endswith("/" + slug), body
    return body


@pytest.fixture
def unchanged(client):
    """Fails the test if it left any row behind."""
    before = row_counts(client)
    yield
    assert row_counts(client) == before


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def import_file(client: TestClient, content: bytes, task: str = "delayed", headers=WRITE):
    return client.post(
        "/solutions/import",
        headers=headers,
        data={"task": task},
        files={"file": ("upload.pt", content)},
    )


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "slug"),
    [
        ({}, 401, "missing-api-key"),
        ({"X-API-Key": "wrong"}, 403, "invalid-api-key"),
        ({"Authorization": "Bearer wrong"}, 403, "invalid-api-key"),
        ({"X-API-Key": API_KEY[:-1]}, 403, "invalid-api-key"),
    ],
)
def test_writes_need_the_right_key(client, unchanged, reference_networks, headers, status, slug):
    body = assert_problem(client.post("/jobs", json=GOOD_JOB, headers=headers), status, slug)
    assert body["instance"] == "/jobs"
    content = reference_networks[0].weights_path.read_bytes()
    response = import_file(client, content, reference_networks[0].task, headers=headers)
    assert_problem(response, status, slug)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_server_without_a_key_refuses_every_write(service, unchanged):
    _, url = service
    with TestClient(create_app(Settings(database_url=url, api_key=None))) as keyless:
        assert_problem(keyless.post("/jobs", json=GOOD_JOB), 401)
        assert_problem(keyless.post("/jobs", json=GOOD_JOB, headers={"X-API-Key": "x"}), 403)
        assert keyless.get("/solutions").status_code == 200  # reads stay public


@pytest.mark.parametrize(
    ("path", "request_body", "link"),
    [("/jobs", QUICK_JOB, "job"), ("/studies", QUICK_STUDY, "study")],
)
def test_an_unreachable_broker_is_a_503_and_the_work_is_marked_failed(
    service, path, request_body, link
):
    _, url = service
    settings = Settings(database_url=url, api_key=API_KEY, broker_url="redis://127.0.0.1:9/0")
    with TestClient(create_app(settings)) as cut_off:
        health = cut_off.get("/health")
        body = assert_problem(health, 503, "unhealthy")
        assert body["database"] == "ok" and body["broker"].startswith("error")
        keyed = {**WRITE, "Idempotency-Key": f"retry-after-503{path}"}
        refused = cut_off.post(path, json=request_body, headers=keyed)
        body = assert_problem(refused, 503)
        assert body["type"].endswith("queue-unavailable")
        # Each 503 says when to try again, as the OpenAPI documents.
        wait = str(RETRY_AFTER_S)
        assert health.headers["Retry-After"] == refused.headers["Retry-After"] == wait
        spec = cut_off.get("/openapi.json").json()["paths"]
        for documented in (spec["/health"]["get"], spec[path]["post"]):
            unavailable = documented["responses"]["503"]
            assert (
                "Retry-After" in unavailable["headers"]
                and f"{wait} s" in unavailable["description"]
            )
        work = cut_off.get(body[link]).json()
        assert work["status"] == "failed" and "could not be queued" in work["error"]
        # The 503 invites a retry: with the same key it is a new attempt, not the failed work.
        retry = cut_off.post(path, json=request_body, headers=keyed)
        assert retry.status_code == 503 and "Idempotent-Replayed" not in retry.headers
        assert retry.json()[link] != body[link]


def _record_job(sessions, key: str) -> int:
    return submit_job(sessions, JobSpec(**JobIn.model_validate(QUICK_JOB).model_dump()), key)[0].id


def _record_study(sessions, key: str) -> int:
    body = StudyIn.model_validate(QUICK_STUDY).model_dump()
    return submit_study(sessions, idempotency_key=key, **body)[0].id


@pytest.mark.parametrize(
    ("path", "request_body", "record"),
    [("/jobs", QUICK_JOB, _record_job), ("/studies", QUICK_STUDY, _record_study)],
)
def test_a_replay_while_the_work_is_handed_over_sends_it_too(service, path, request_body, record):
    """Retries racing the first request (QA: 10 at once, the broker down) found its work
    recorded, still queued, and answered 202 "queued" for work that the first request then
    failed to queue: the clients stopped retrying work that never ran. A replay of queued work
    sends it too: here, the broker unreachable, it answers the same 503."""
    _, url = service
    settings = Settings(database_url=url, api_key=API_KEY, broker_url="redis://127.0.0.1:9/0")
    with TestClient(create_app(settings)) as cut_off:
        key = f"handed-over{path}"
        work_id = record(cut_off.app.state.sessions, key)  # the first request, mid-hand-over
        replay = cut_off.post(path, json=request_body, headers={**WRITE, "Idempotency-Key": key})
        body = assert_problem(replay, 503, "queue-unavailable")
        assert str(work_id) in body["detail"]
        work = cut_off.get(f"{path}/{work_id}").json()
        assert work["status"] == "failed" and "could not be queued" in work["error"]


# --- jobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "slug"),
    [
        ({"task": "no_such_task"}, "invalid-job"),
        ({"task": "two_neuron"}, "invalid-job"),
        ({"units": 0}, "validation-error"),
        ({"units": -5}, "validation-error"),
        ({"units": 100_000}, "validation-error"),
        ({"count": 0}, "validation-error"),
        ({"count": 1025}, "validation-error"),
        ({"count": 10**9}, "validation-error"),
        ({"seed": -1}, "validation-error"),
        ({"architecture": "transformer"}, "validation-error"),
        ({"units": "twenty"}, "validation-error"),
        ({"surprise": 1}, "validation-error"),
        ({"training": {"learning_rate": -1.0}}, "validation-error"),
        ({"training": {"no_such_option": 1}}, "validation-error"),
        ({"task_parameters": {"delay_max": -3}}, "invalid-job"),
        ({"task_parameters": {"no_such_parameter": 1}}, "invalid-job"),
    ],
)
def test_bad_jobs_are_refused_and_write_nothing(client, unchanged, changes, slug):
    response = client.post("/jobs", json={**GOOD_JOB, **changes}, headers=WRITE)
    assert_problem(response, 422, slug)


@pytest.mark.parametrize(
    ("path", "request_body", "said"),
    [
        (
            "/studies",
            {**QUICK_STUDY, "task_parameters": {"t_final": "x"}},
            "body.task_parameters.t_final: should be a number or a list",
        ),
        (
            "/studies",
            {**QUICK_STUDY, "task_parameters": {"t_final": [1, "x"]}},
            "body.task_parameters.t_final.1: should be a number",
        ),
        ("/jobs", {**GOOD_JOB, "count": None}, "body.count: Input should be a valid integer"),
        (
            "/jobs",
            {key: value for key, value in GOOD_JOB.items() if key != "count"},
            "body.count: is required",
        ),
    ],
)
def test_a_422_says_what_is_wrong_once_per_field_in_words(service, path, request_body, said):
    """A union's members each had their say, under pydantic's type tags (`constrained-int`,
    `list[union[...]]`); a missing field was "Field required"."""
    client, _ = service
    response = client.post(path, json=request_body, headers=WRITE)
    assert assert_problem(response, 422, "validation-error")["detail"] == said


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"task": "delayed",', b"", b"\xff\xfe", b"[1, 2]", b"null"],
)
def test_malformed_json_is_refused(client, unchanged, content):
    response = client.post(
        "/jobs", content=content, headers={**WRITE, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


@pytest.mark.parametrize("path", ["/jobs", "/charts", "/studies"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_body_sent_as_another_media_type_is_a_415(client, unchanged, path, content_type):
    """It was a 422 saying that the body is no dictionary, which hid the cause."""
    headers = {**WRITE, **({"Content-Type": content_type} if content_type else {})}
    response = client.post(path, content=b'{"task": "delayed"}', headers=headers)
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "application/json" in body["detail"]


def test_unparseable_json_is_a_400(client, unchanged):
    response = client.post(
        "/jobs", content=b"{oops", headers={**WRITE, "Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


def test_a_reused_idempotency_key_with_another_request_is_refused(client):
    headers = {**WRITE, "Idempotency-Key": "errors-reuse"}
    first = client.post("/jobs", json=QUICK_JOB, headers=headers)
    assert first.status_code == 202
    wait_until_idle(client)
    before = row_counts(client)
    for changes in ({"units": 30}, {"seed": 1}, {"training": {"max_epochs": 2}}):
        response = client.post("/jobs", json={**QUICK_JOB, **changes}, headers=headers)
        assert_problem(response, 422, "idempotency-key-reused")
    assert client.post("/jobs", json=QUICK_JOB, headers=headers).json()["id"] == first.json()["id"]
    assert row_counts(client) == before


@pytest.mark.parametrize("path", ["/jobs", "/charts", "/studies"])
@pytest.mark.parametrize(
    ("keys", "said"),
    [
        ([b"key-a", b"key-b"], "the Idempotency-Key header was given 2 times"),
        (["ключ".encode()], "idempotency-key"),  # was stored as latin-1 mojibake
        ([b"key\x85"], "idempotency-key"),  # a C1 control character (NEL)
    ],
)
def test_an_idempotency_key_is_one_printable_ascii_header(service, path, keys, said):
    """Two keys used the first silently; non-ASCII and C1 control characters were kept."""
    client, _ = service
    body = {"/jobs": QUICK_JOB, "/studies": QUICK_STUDY}.get(path, {})
    headers = [(b"X-API-Key", API_KEY.encode()), *((b"Idempotency-Key", key) for key in keys)]
    before = row_counts(client)
    response = client.post(path, json=body, headers=headers)
    assert said in assert_problem(response, 422)["detail"]
    assert row_counts(client) == before


def test_a_name_with_a_c1_control_character_is_refused(service):
    client, _ = service
    before = row_counts(client)
    response = client.post("/studies", json={**QUICK_STUDY, "name": "paper\x85"}, headers=WRITE)
    assert "name" in assert_problem(response, 422, "validation-error")["detail"]
    assert row_counts(client) == before


def test_a_study_retried_with_its_key_is_one_study(client):
    """Both ways of starting a study replay it (202, `Idempotent-Replayed`), queueing nothing
    more; another request under the key is a 422 naming the key, and writes nothing."""
    headers = {**WRITE, "Idempotency-Key": "errors-study"}
    first = client.post("/studies", json=QUICK_STUDY, headers=headers)
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    study_id = first.json()["id"]
    before = row_counts(client)
    again = client.post("/studies", json=QUICK_STUDY, headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == study_id and again.headers["Location"] == f"/studies/{study_id}"
    older = client.post("/tasks/two_neuron/studies", json=QUICK_STUDY, headers=headers)
    assert older.status_code == 202 and older.headers["Idempotent-Replayed"] == "true"
    assert older.json()["study_id"] == study_id
    for changes in ({"count": 2}, {"seed": 1}, {"name": "other"}, {"training": {"max_steps": 2}}):
        response = client.post("/studies", json={**QUICK_STUDY, **changes}, headers=headers)
        body = assert_problem(response, 422, "idempotency-key-reused")
        assert "'errors-study'" in body["detail"] and f"study {study_id}" in body["detail"]
    assert row_counts(client) == before


def test_oversized_bodies_are_refused_with_413(client, unchanged):
    too_big = b"0" * (MAX_BODY_BYTES + 1)
    assert_problem(import_file(client, too_big), 413, "body-too-large")

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(MAX_BODY_BYTES // 2**20 + 2):
            yield b" " * 2**20

    response = client.post(
        "/jobs", content=chunks(), headers={**WRITE, "Content-Type": "application/json"}
    )
    assert_problem(response, 413, "body-too-large")


# --- imports -------------------------------------------------------------------------------


class CodeCarrier:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_carrying_code_is_refused_and_never_run(client, unchanged, tmp_path):
    marker = tmp_path / "pwned"
    payloads = [
        torch_bytes({"rnn.weight_ih_l0": CodeCarrier(marker)}),
        torch_bytes(CodeCarrier(marker)),
        pickle.dumps({"fc.bias": CodeCarrier(marker)}),
    ]
    for payload in payloads:
        body = assert_problem(import_file(client, payload), 422, "invalid-state-dict")
        assert "safe" in body["detail"]
    assert not marker.exists()


def test_weights_that_do_not_fit_the_task_or_themselves_are_refused(
    client, unchanged, reference_networks
):
    reference = next(r for r in reference_networks if r.task == "delayed")
    three_inputs = dict(reference.state_dict)
    rows = three_inputs["rnn.weight_ih_l0"].shape[0]
    three_inputs["rnn.weight_ih_l0"] = torch.randn(rows, 3)
    assert_problem(import_file(client, torch_bytes(three_inputs)), 422, "shape-mismatch")

    torn = dict(reference.state_dict)
    torn["fc.weight"] = torch.randn(1, reference.units - 1)
    assert_problem(import_file(client, torch_bytes(torn)), 422, "invalid-state-dict")

    nan = {k: v.clone() for k, v in reference.state_dict.items()}
    nan["rnn.weight_hh_l0"][0, 0] = float("nan")
    assert_problem(import_file(client, torch_bytes(nan)), 422, "invalid-state-dict")

    missing = {k: v for k, v in reference.state_dict.items() if k != "fc.bias"}
    assert_problem(import_file(client, torch_bytes(missing)), 422, "invalid-state-dict")

    assert_problem(import_file(client, b"not a torch file at all"), 422, "invalid-state-dict")
    assert_problem(import_file(client, torch_bytes([1, 2, 3])), 422, "invalid-state-dict")


def test_imports_for_unknown_or_network_less_tasks_are_refused(
    client, unchanged, reference_networks
):
    content = reference_networks[0].weights_path.read_bytes()
    assert_problem(import_file(client, content, task="no_such_task"), 422, "unknown-task")
    assert_problem(import_file(client, content, task="two_neuron"), 422, "invalid-task")
    response = client.post("/solutions/import", headers=WRITE, data={"task": "delayed"})
    assert_problem(response, 422, "validation-error")  # no file


# --- reads ---------------------------------------------------------------------------------


def test_forged_or_foreign_cursors_are_refused(client):
    page = client.get("/solutions", params={"limit": 1}).json()
    cursor = page["next_cursor"]
    assert cursor and client.get("/solutions", params={"limit": 1, "cursor": cursor}).is_success
    body, signature = cursor.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    forgeries = [
        f"{flipped}.{signature}",
        f"{body}.{signature[::-1]}",
        f"{body}.",
        body,
        "garbage",
        "a.b.c",
        "!!!.???",
    ]
    for forged in forgeries:
        response = client.get("/solutions", params={"limit": 1, "cursor": forged})
        assert_problem(response, 400, "invalid-cursor")
    other_query = {"limit": 1, "cursor": cursor, "sort": "validation_loss"}
    assert_problem(client.get("/solutions", params=other_query), 400, "invalid-cursor")
    other_filter = {"limit": 1, "cursor": cursor, "task": "delayed"}
    assert_problem(client.get("/solutions", params=other_filter), 400, "invalid-cursor")


@pytest.mark.parametrize(
    ("params", "status", "slug"),
    [
        ({"task": "no_such_task"}, 422, "unknown-task"),
        ({"units": 0}, 422, "validation-error"),
        ({"limit": 0}, 422, "validation-error"),
        ({"limit": 100_000}, 422, "validation-error"),
        ({"sort": "name"}, 422, "validation-error"),
        ({"order": "sideways"}, 422, "validation-error"),
        ({"min_loss": -1}, 422, "validation-error"),
        ({"architecture": "cnn"}, 422, "validation-error"),
    ],
)
def test_bad_listing_queries(client, params, status, slug):
    assert_problem(client.get("/solutions", params=params), status, slug)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/solutions/987654", 404),
        ("GET", "/solutions/987654/weights", 404),
        ("GET", "/solutions/987654/checkpoints", 404),
        ("GET", "/solutions/1/checkpoints/987654/weights", 404),
        ("GET", "/solutions/not-a-number", 422),
        ("GET", "/jobs/987654", 404),
        ("GET", "/tasks/no_such_task", 404),
        ("GET", "/no/such/route", 404),
        ("DELETE", "/solutions/1", 405),
    ],
)
def test_missing_things_are_problems_too(client, method, path, status):
    assert_problem(client.request(method, path), status)


# --- schema --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_app_refuses_to_start_on_an_out_of_date_schema(backend, tmp_path):
    with database(backend, tmp_path) as url:
        migrate(url, "base")
        with (
            pytest.raises(SchemaOutOfDateError, match="atlas migrate"),
            TestClient(create_app(Settings(database_url=url, api_key=API_KEY))),
        ):
            pass
