"""The REST API on SQLite and on the real PostgreSQL: tasks, imports of the paper's reference
networks, a really trained job (embedded, in-process), listings with filters and cursors,
weights that load back and reproduce the stored losses."""

from __future__ import annotations

import io
import time

import pytest
import torch
from fastapi.testclient import TestClient
from migrated_app import migrated_app_client
from sqlalchemy import select
from threadpoolctl import threadpool_info
from throwaway_databases import BACKENDS

import api.routes.imports
from atlas.networks import from_state_dicts, torch_network
from atlas.store.models import Network, SolutionType
from atlas.tasks import TASKS, get_task
from atlas.training.evaluation import population_mse

API_KEY = "test-key-0123456789"
WRITE = {"X-API-Key": API_KEY}
SMALL_DELAYED = {"f_max": 5, "delay_max": 2}  # 36 training trials: a population trains in seconds
JOB = {
    "task": "delayed_discrimination",
    "architecture": "vanilla",
    "units": 8,
    "count": 2,
    "seed": 11,
    "task_parameters": SMALL_DELAYED,
    # failure_loss above any loss: the short run's networks end "unfinished", not failed, so the
    # job succeeds (a job whose networks all failed reads failed).
    "training": {"max_epochs": 12, "checkpoint_every": 5, "failure_loss": 1.0},
}
JOB_TIMEOUT_S = 240
FINISHED = ("succeeded", "partially_succeeded", "failed", "cancelled")


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory):
    """The app on a freshly migrated database of each backend, jobs running in-process."""
    with migrated_app_client(request.param, tmp_path_factory.mktemp(request.param), API_KEY) as c:
        yield c


@pytest.fixture(scope="module")
def imported(client, reference_networks):
    """All reference networks imported through the API: (reference, response body) pairs."""
    pairs = []
    for reference in reference_networks:
        response = client.post(
            "/solutions/import",
            headers=WRITE,
            data={"task": reference.task, "name": reference.name},
            files={"file": ("weights.pt", reference.weights_path.read_bytes())},
        )
        assert response.status_code == 201, response.text
        pairs.append((reference, response.json()))
    return pairs


def wait_for_job(client: TestClient, job_id: int) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in FINISHED:
            return job
        time.sleep(0.5)
    pytest.fail(f"job {job_id} did not finish in {JOB_TIMEOUT_S} s: {job}")


def load_weights(content: bytes) -> dict[str, torch.Tensor]:
    return torch.load(io.BytesIO(content), weights_only=True)


def float64_validation_loss(state_dict: dict[str, torch.Tensor], task) -> float:
    """The validation MSE by plain PyTorch modules in float64: independent of atlas' batching."""
    trials = task.validation_set()
    network = torch_network(state_dict).double()
    with torch.no_grad():
        outputs = network(trials.inputs.double())
    return float((outputs - trials.targets.double()).pow(2).mean())


def test_health_reports_database_and_embedded_jobs(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "embedded"}


def test_tasks_are_listed_with_parameters_and_found_by_alias(client):
    listed = client.get("/tasks").json()
    assert [t["name"] for t in listed] == list(TASKS)
    rsg = client.get("/tasks/rsg").json()
    assert rsg["name"] == "reproduction"
    assert rsg["inputs"] == ["ready", "set"]
    assert rsg["parameters"] == get_task("reproduction").parameters()
    assert rsg["input_events"]["set"]["edge_type"] == 2
    model = client.get("/tasks/two_neuron")  # a study model: say where its routes are
    assert model.status_code == 404 and model.json()["type"].endswith("/study-model")
    assert "/tasks/two_neuron/regimes" in model.json()["detail"]


def test_openapi_documents_examples_and_the_api_key(client):
    spec = client.get("/openapi.json").json()
    job_in = spec["components"]["schemas"]["JobIn"]
    assert job_in["examples"][0]["task"] == "delayed"
    post_jobs = spec["paths"]["/jobs"]["post"]
    assert {"401", "403", "422"} <= set(post_jobs["responses"])
    assert post_jobs["security"]
    import_responses = spec["paths"]["/solutions/import"]["post"]["responses"]
    assert {"200", "201"} <= set(import_responses)  # 200: the same weights imported again
    assert "Idempotent-Replayed" in import_responses["200"]["description"]
    for path in ("/studies", "/tasks/two_neuron/studies"):  # keyed as jobs and charts are
        start = spec["paths"][path]["post"]
        assert "idempotency-key" in {p["name"] for p in start["parameters"]}, path
        assert "Idempotent-Replayed" in start["description"], path
        assert "Idempotency-Key freed" in start["responses"]["503"]["description"], path
    assert client.get("/docs").status_code == 200


def test_a_job_trains_in_process_and_its_weights_reproduce_the_losses(client):
    """First in the module: the in-process queue is FIFO, and imports queue their analyses."""
    response = client.post("/jobs", json=JOB, headers={**WRITE, "Idempotency-Key": "job-a"})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.headers["Location"] == f"/jobs/{job_id}"
    assert response.json()["task"] == "delayed"

    bearer = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "job-a"}
    retry = client.post("/jobs", json=JOB, headers=bearer)
    assert retry.status_code == 202
    assert retry.json()["id"] == job_id
    assert retry.headers["Idempotent-Replayed"] == "true"

    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job
    assert job["progress"]["saved"] == JOB["count"] and job["progress"]["fraction"] == 1.0
    assert [n["seed"] for n in job["networks"]] == [11, 12]
    assert job["training"]["max_epochs"] == 12

    listed = client.get("/solutions", params={"task": "delayed", "job": job_id}).json()["items"]
    assert sorted(s["id"] for s in listed) == sorted(n["id"] for n in job["networks"])
    task = get_task("delayed", **SMALL_DELAYED)
    for summary in listed:
        detail = client.get(summary["links"]["self"]).json()
        assert detail["source"] == "trained" and detail["job_id"] == job_id
        assert detail["task_parameters"] == task.parameters()
        assert len(detail["loss_curve"]) == detail["epochs"]
        weights = load_weights(client.get(summary["links"]["weights"]).content)
        reproduced = float(population_mse(from_state_dicts([weights]), task.validation_set())[0])
        assert reproduced == pytest.approx(detail["validation_loss"], rel=1e-4)

        checkpoints = client.get(summary["links"]["checkpoints"]).json()
        kinds = [c["kind"] for c in checkpoints]
        assert kinds[0] == "initial" and kinds[-1] == "final" and "intermediate" in kinds
        final = load_weights(client.get(checkpoints[-1]["weights"]).content)
        assert all(torch.equal(final[k], weights[k]) for k in weights)
        initial = load_weights(client.get(checkpoints[0]["weights"]).content)
        assert not torch.equal(initial["rnn.weight_hh_l0"], weights["rnn.weight_hh_l0"])


def test_jobs_are_listed_newest_first_filtered_and_paged(client):
    """Runs after the first job, which is in the listing too."""
    done = client.post("/jobs", json={**JOB, "seed": 30}, headers=WRITE).json()["id"]
    long = {**JOB, "seed": 40, "training": {**JOB["training"], "max_epochs": 100_000}}
    stopped = client.post("/jobs", json=long, headers=WRITE).json()["id"]
    assert client.post(f"/jobs/{stopped}/cancel", headers=WRITE).status_code == 202
    assert wait_for_job(client, done)["status"] == "succeeded"
    assert wait_for_job(client, stopped)["status"] == "cancelled"

    everything = client.get("/jobs", params={"limit": 200}).json()
    ids = [job["id"] for job in everything["items"]]
    assert ids == sorted(ids, reverse=True) and {done, stopped} <= set(ids) and len(ids) >= 3
    assert everything["next_after"] is None
    listed = {job["id"]: job for job in everything["items"]}
    assert "networks" not in listed[done]
    assert listed[done]["progress"]["saved"] == len(client.get(f"/jobs/{done}").json()["networks"])
    assert listed[done]["links"]["self"] == f"/jobs/{done}"

    walked, after = [], None
    while True:
        page = client.get("/jobs", params={"limit": 1} | ({"after": after} if after else {}))
        body = page.json()
        walked += [job["id"] for job in body["items"]]
        after = body["next_after"]
        if after is None:
            break
    assert walked == ids

    def ids_where(**filters) -> set[int]:
        return {job["id"] for job in client.get("/jobs", params=filters).json()["items"]}

    assert stopped in ids_where(status="cancelled") and done not in ids_where(status="cancelled")
    assert done in ids_where(status="succeeded") and stopped not in ids_where(status="succeeded")
    assert {done, stopped} <= ids_where(task="delayed_discrimination")  # long name or alias
    assert not ids_where(task="interval", status="succeeded") & {done, stopped}
    for bad in ({"task": "no-such-task"}, {"status": "sleeping"}, {"after": 0}, {"limit": 0}):
        answer = client.get("/jobs", params=bad)
        assert answer.status_code == 422, bad
        assert answer.headers["content-type"] == "application/problem+json"


def test_imported_reference_networks_keep_their_validation_loss(imported):
    for reference, body in imported:
        task = get_task(reference.task)
        expected = float64_validation_loss(reference.state_dict, task)
        assert body["source"] == "imported"
        assert body["name"] == reference.name
        assert (body["task"], body["architecture"], body["units"]) == (
            reference.task,
            reference.architecture,
            reference.units,
        )
        assert body["validation_loss"] == pytest.approx(expected, rel=1e-3)
        assert 1e-5 < body["validation_loss"] < 2e-4, reference.name
        assert body["status"] == "converged"
        assert [a["step"] for a in body["analyses"]]  # every registered step is listed


def test_imported_weights_download_unchanged(client, imported):
    for reference, body in imported[:: max(1, len(imported) // 5)]:
        response = client.get(body["links"]["weights"])
        assert response.status_code == 200
        weights = load_weights(response.content)
        assert weights.keys() == reference.state_dict.keys()
        for key, tensor in reference.state_dict.items():
            assert torch.equal(weights[key], tensor), (reference.name, key)


def test_listing_filters_by_task_alias_architecture_units_and_loss(client, imported):
    by_id = {body["id"]: reference for reference, body in imported}

    def listed(**params) -> list[dict]:
        response = client.get("/solutions", params={"source": "imported", "limit": 500, **params})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    reproduction = listed(task="rsg")
    assert {by_id[s["id"]].name for s in reproduction} == {
        r.name for r, _ in imported if r.task == "reproduction"
    }
    gru = listed(task="reproduction", architecture="gru")
    assert gru and all(by_id[s["id"]].architecture == "gru" for s in gru)
    units = imported[0][0].units
    assert {s["id"] for s in listed(units=units)} == {
        b["id"] for r, b in imported if r.units == units
    }
    losses = sorted(b["validation_loss"] for _, b in imported)
    low, high = losses[3], losses[-4]
    in_range = listed(min_loss=low, max_loss=high)
    assert {s["id"] for s in in_range} == {
        b["id"] for _, b in imported if low <= b["validation_loss"] <= high
    }
    assert listed(task="interval", architecture="lstm") == []


def analysed_imports(client: TestClient, task: str, count: int) -> list[int]:
    """Ids of `count` imported networks whose analyses are over (no step will touch them now)."""
    over = (
        select(Network.id)
        .where(Network.source == "imported", Network.task == task)
        .where(Network.analysis_status.in_(("done", "failed")))
        .limit(count)
    )
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        with client.app.state.sessions() as session:
            ids = list(session.scalars(over))
        if len(ids) == count:
            return ids
        time.sleep(0.5)
    pytest.fail(f"fewer than {count} imported networks analysed in {JOB_TIMEOUT_S} s")


def test_listing_filters_by_solution_type(client, imported):
    """A type assigned by hand to two analysed networks, and the types the analysis gave."""
    members = analysed_imports(client, "delayed", 2)  # imported first, so analysed first
    with client.app.state.sessions() as session:
        kind = SolutionType(
            task="delayed",
            task_parameters=get_task("delayed").parameters(),
            name="hand-made",
            canonical_hash="h" * 64,
            graph={},
        )
        session.add(kind)
        session.flush()
        for network_id in members:
            session.get(Network, network_id).solution_type_id = kind.id
        session.commit()
    listed = client.get("/solutions", params={"type": "hand-made"}).json()["items"]
    assert sorted(s["id"] for s in listed) == sorted(members)
    assert {s["solution_type"] for s in listed} == {"hand-made"}
    assert client.get(f"/solutions/{members[0]}").json()["solution_type"] == "hand-made"
    assert client.get("/solutions", params={"type": "no-such-type"}).json()["items"] == []


def test_sorting_and_cursor_pagination_walk_every_row_once(client, imported):
    everything = client.get(
        "/solutions", params={"source": "imported", "sort": "validation_loss", "limit": 500}
    ).json()
    losses = [s["validation_loss"] for s in everything["items"]]
    assert losses == sorted(losses) and len(losses) == len(imported)
    assert everything["next_cursor"] is None

    for sort, order in [("validation_loss", "asc"), ("created_at", "desc"), ("units", "desc")]:
        params = {"source": "imported", "sort": sort, "order": order, "limit": 3}
        pages, page = [], client.get("/solutions", params=params).json()
        pages.append(page)
        while page["next_cursor"]:
            page = client.get("/solutions", params={**params, "cursor": page["next_cursor"]})
            page = page.json()
            pages.append(page)
        ids = [s["id"] for p in pages for s in p["items"]]
        assert len(ids) == len(set(ids)) == len(imported)
        whole = client.get("/solutions", params={**params, "limit": 500}).json()
        assert ids == [s["id"] for s in whole["items"]]
        assert len(pages) == -(-len(imported) // 3)

    first = client.get("/solutions", params={"source": "imported", "limit": 2}).json()
    follow = client.get(first["next"]).json()
    assert follow["items"][0]["id"] < first["items"][-1]["id"]  # newest first by default


def torch_bytes(state_dict: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The solutions whose analysis an import queues from now on (recorded, not run)."""
    ids: list[int] = []

    def record(network_id: int, _settings) -> None:
        ids.append(network_id)

    monkeypatch.setattr(api.routes.imports, "enqueue_analysis", record)
    return ids


def upload(client: TestClient, content: bytes, task: str, name: str | None = None):
    data = {"task": task} if name is None else {"task": task, "name": name}
    return client.post(
        "/solutions/import", headers=WRITE, data=data, files={"file": ("w.pt", content)}
    )


def member_counts(client: TestClient) -> dict[int, int]:
    with client.app.state.sessions() as session:
        return dict(session.execute(select(SolutionType.id, SolutionType.member_count)).all())


def network_count(client: TestClient) -> int:
    with client.app.state.sessions() as session:
        return len(session.scalars(select(Network.id)).all())


def test_importing_the_same_file_again_returns_the_solution_already_there(client, imported, queued):
    """A retried upload (another name too) is one network: 200 and Idempotent-Replayed, the
    first import's solution unchanged, nothing queued, no type gains a member."""
    (first_id,) = analysed_imports(client, "delayed", 1)
    reference, first = next((r, b) for r, b in imported if b["id"] == first_id)
    counts, networks = member_counts(client), network_count(client)
    content = reference.weights_path.read_bytes()
    for name in (reference.name, "another name", None):
        response = upload(client, content, reference.task, name)
        assert response.status_code == 200, response.text
        assert response.headers["Idempotent-Replayed"] == "true"
        assert response.headers["Location"] == f"/solutions/{first_id}"
        body = response.json()
        assert body == client.get(f"/solutions/{first_id}").json()
        assert (body["id"], body["name"], body["info"]) == (first_id, first["name"], first["info"])
    assert queued == []
    assert network_count(client) == networks
    assert member_counts(client) == counts


def test_the_same_weights_for_another_task_or_one_ulp_apart_are_new_solutions(
    client, imported, queued
):
    reference, first = next((r, b) for r, b in imported if r.task == "delayed")
    content = reference.weights_path.read_bytes()
    other_task = upload(client, content, "interval")
    assert other_task.status_code == 201, other_task.text
    assert "Idempotent-Replayed" not in other_task.headers
    assert other_task.json()["id"] != first["id"]
    assert other_task.json()["task"] == "interval"
    again = upload(client, content, "interval")
    assert (again.status_code, again.json()["id"]) == (200, other_task.json()["id"])

    nudged = {key: tensor.clone() for key, tensor in reference.state_dict.items()}
    weight = nudged["rnn.weight_hh_l0"]
    weight[0, 0] = torch.nextafter(weight[0, 0], torch.tensor(float("inf")))
    one_ulp = upload(client, torch_bytes(nudged), "delayed")
    assert one_ulp.status_code == 201, one_ulp.text
    new_ids = [other_task.json()["id"], one_ulp.json()["id"]]
    assert first["id"] not in new_ids and len(set(new_ids)) == 2
    assert queued == new_ids  # each new solution queued once, the repeat not at all


def test_blas_runs_on_one_thread_while_the_app_serves(tmp_path):
    """Requests multiply small matrices: BLAS threads spinning beside the request threads cost
    several times the CPU (a 20-network comparison matrix). The limit lasts the app's life."""
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas, "numpy links a BLAS"
    with migrated_app_client("sqlite", tmp_path, API_KEY):
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {1}
    assert [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"] == [
        p["num_threads"] for p in blas
    ]
