"""A task the atlas has never seen, declared only as data (tests/declarations/go_no_go_delay.yaml):
declared through the API (checked, versioned, stored in PostgreSQL), trained through a job on a
small population, analysed by the worker's steps, typed and served; and invalid declarations
refused with one message per mistake, nothing stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from migrated_app import migrated_app_client
from sqlalchemy import func, select

from atlas.cli import main
from atlas.network_status import solves_task
from atlas.store.models import Network, TaskDeclarationRow

API_KEY = "user-task-key-0123456789"
WRITE = {"X-API-Key": API_KEY}
YAML_WRITE = {**WRITE, "Content-Type": "application/yaml"}
DECLARATION = Path(__file__).parents[1] / "declarations" / "go_no_go_delay.yaml"
# 4 vanilla networks of 16 units: on this machine 5 of 6 such networks reach the 1e-4
# criterion within 360-640 epochs at lr 1e-2 (about 16 s for six on one core).
JOB = {
    "task": "dgng",
    "architecture": "vanilla",
    "units": 16,
    "count": 4,
    "seed": 0,
    "training": {
        "max_epochs": 800,
        "learning_rate": 1e-2,
        "batch_size": 10,
        "success_loss": 1e-4,
        "failure_loss": 1e-3,
        "checkpoint_every": 0,
    },
}
TIMEOUT_S = 400


pytestmark = pytest.mark.postgresql  # the module's atlas is a PostgreSQL one


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with migrated_app_client("postgresql", tmp_path_factory.mktemp("pg"), API_KEY) as c:
        yield c


def stored_versions(client: TestClient) -> int:
    with client.app.state.sessions() as session:
        return session.scalar(select(func.count()).select_from(TaskDeclarationRow))


def test_a_declaration_is_stored_versioned_and_found_by_alias(client):
    text = DECLARATION.read_text()
    created = client.post("/tasks", content=text, headers=YAML_WRITE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["version"], body["parameters"]["version"]) == (
        "go_no_go_delay",
        1,
        1,
    )
    assert body["inputs"] == ["cue", "signal"] and body["input_events"]["signal"]["edge_type"] == 2
    assert created.headers["Location"] == "/tasks/go_no_go_delay"

    again = client.post("/tasks", json=yaml.safe_load(text), headers=WRITE)  # as JSON this time
    assert again.status_code == 200 and again.json()["version"] == 1
    assert stored_versions(client) == 1

    assert client.get("/tasks/dgng").json()["declaration"]["periods"][1] == {
        "name": "delay",
        "duration": "delay",
    }
    listed = [t["name"] for t in client.get("/tasks").json()]
    assert listed[-1] == "go_no_go_delay" and "delayed" in listed


def test_invalid_declarations_are_refused_with_each_mistake_and_nothing_is_stored(client):
    before = stored_versions(client)
    data = yaml.safe_load(DECLARATION.read_text())
    data["name"] = "broken_task"
    data["periods"][0]["inputs"] = {"cues": "cue"}  # unknown channel
    data["periods"][3]["onset"] = "cue_onset"  # response overlaps the cue
    data["training"]["grid"]["cue"] = {"from": 1, "to": 30000}  # too large to train
    response = client.post("/tasks", json=data, headers=WRITE)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert len(errors) == 1 and "unknown input channel 'cues'" in errors[0]  # names come first

    data["periods"][0]["inputs"] = {"cue": "cue"}
    errors = client.post("/tasks", json=data, headers=WRITE).json()["errors"]
    assert len(errors) == 2 and "too large to train: 150000 trials" in errors[0]
    assert "'cue' and 'response' overlap" in errors[1]

    data["training"]["grid"]["cue"] = [-1, 1]
    del data["periods"][3]["onset"]
    data["trial_length"] = 14  # the response of the longest delay ends at step 16
    errors = client.post("/tasks", json=data, headers=WRITE).json()["errors"]
    assert errors == [
        "training: target 'response' ends after the trial's 14 steps (at step 16) "
        "(e.g. the trial with cue=-1, delay=5)"
    ]

    assert client.get("/tasks/broken_task").status_code == 404
    assert stored_versions(client) == before


def test_names_keys_and_bodies_are_checked(client):
    data = yaml.safe_load(DECLARATION.read_text())
    taken = client.post("/tasks", json={**data, "name": "delayed"}, headers=WRITE)
    assert taken.status_code == 409 and "built-in task" in taken.json()["detail"]
    aliased = client.post(
        "/tasks", json={**data, "name": "other", "aliases": ["rsg"]}, headers=WRITE
    )
    assert aliased.status_code == 409
    study = client.post("/tasks", json={**data, "name": "two_neuron"}, headers=WRITE)
    assert study.status_code == 409 and "study model" in study.json()["detail"]
    assert client.post("/tasks", json=data).status_code == 401
    malformed = client.post("/tasks", content="name: [unclosed", headers=YAML_WRITE)
    assert malformed.status_code == 400 and "not valid YAML" in malformed.json()["detail"]
    assert client.post("/tasks", json=[1, 2], headers=WRITE).status_code == 422


def analysed(client: TestClient, job_id: int) -> list[dict]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        listed = client.get(f"/solutions?job={job_id}&limit=50").json()["items"]
        job = client.get(f"/jobs/{job_id}").json()
        over = all(s["analysis_status"] in ("done", "failed") for s in listed)
        if job["status"] not in ("queued", "running") and len(listed) == JOB["count"] and over:
            return listed
        time.sleep(1.0)
    pytest.fail(f"job {job_id} was not trained and analysed in {TIMEOUT_S} s")


@pytest.mark.slow
def test_a_declared_task_is_trained_analysed_typed_and_served(client):
    assert client.post("/tasks", content=DECLARATION.read_text(), headers=YAML_WRITE).is_success
    response = client.post("/jobs", json=JOB, headers=WRITE)
    assert response.status_code == 202, response.text
    assert response.json()["task"] == "go_no_go_delay"
    assert response.json()["task_parameters"]["version"] == 1
    listed = analysed(client, response.json()["id"])
    converged = [s for s in listed if s["status"] == "converged"]
    assert len(converged) >= 2, listed

    for solution in converged:
        detail = client.get(f"/solutions/{solution['id']}").json()
        steps = {a["step"]: a["status"] for a in detail["analyses"]}
        assert steps == dict.fromkeys(
            ("validation", "fixed_points", "limit_cycles", "extrapolation", "graph",
             "solution_type", "features"),
            "succeeded",
        ), steps  # fmt: skip
        assert detail["solution_type"].startswith("go_no_go_delay")

        fixed = client.get(f"/solutions/{solution['id']}/fixed-points").json()
        assert sum(c["count"] for c in fixed["conditions"]) > 0, fixed
        signature = client.get(f"/solutions/{solution['id']}/extrapolation").json()
        summary = signature["summary"]
        assert summary["accuracy_in_range"] == 1.0  # a converged network answers every trial
        assert summary["accuracy_training_delay"] == 1.0
        assert len(signature["arrays"]["accuracy_by_delay"]) == 15  # delays 2, 4, .., 30
        graph = client.get(f"/solutions/{solution['id']}/graph").json()
        edge_types = {e["edge_type"] for e in graph["compact"]["edges"]}
        # The signal always moves the state; of the two cues at least one must (a network may
        # rest where one cue leaves it, so that cue's edge is a self-loop and compacted away:
        # measured on a CI machine, types {0, 2, 3})
        assert 2 in edge_types and edge_types & {1, 3}, edge_types
        outputs = {n["output"] for n in graph["compact"]["nodes"]}
        assert {-1, 1} <= outputs  # both answers

    # Types hold every solution: a converged network, or one whose training ended between the
    # recipe's 2e-5 and the 2e-4 that makes a network a solution (atlas.network_status).
    solutions = [s for s in listed if solves_task(s["validation_loss"])]
    types = client.get("/types?task=dgng").json()
    assert types["task"] == "go_no_go_delay"
    assert sum(t["members"] for t in types["types"]) == len(solutions) == types["networks"]
    assert client.get(f"/solutions?task=dgng&job={response.json()['id']}").json()["items"]
    with client.app.state.sessions() as session:
        rows = session.scalars(select(Network).where(Network.task == "go_no_go_delay")).all()
        assert {n.task_parameters["version"] for n in rows} == {1}


def test_the_explorer_shows_a_declared_task_its_types_and_offers_it_in_forms(client):
    """After the training test: the pages took the built-in tasks alone, and a declared
    task's own page answered 404."""
    home = client.get("/atlas")
    assert home.status_code == 200 and 'href="/atlas/tasks/go_no_go_delay"' in home.text
    types = client.get("/types?task=dgng").json()["types"]
    assert types, "the training test stores typed solutions"
    page = client.get("/atlas/tasks/dgng")
    assert page.status_code == 200
    assert all(t["name"] in page.text for t in types)
    assert client.get(f"/atlas/types/{types[0]['id']}").status_code == 200
    unknown = client.get("/solutions", params={"task": "no_such_task"}).json()
    assert "go_no_go_delay" in unknown["detail"] and "go_no_go_delay" in unknown["known"]
    for form in ("/atlas/work", "/atlas/import", "/atlas/solutions"):
        assert "<option>go_no_go_delay</option>" in client.get(form).text.replace(
            " selected", ""
        ), form


def test_cli_types_export_and_import_find_a_declared_task(client, tmp_path, capsys):
    """`atlas types`, `atlas export` and `atlas import` resolve a user's task (here by its
    alias) from the atlas' stored declarations, not only the built-in tasks; the networks are
    those trained by the test above."""
    url = client.app.state.settings.database_url
    assert client.post("/tasks", content=DECLARATION.read_text(), headers=YAML_WRITE).is_success
    capsys.readouterr()
    assert main(["types", "--task", "dgng", "--database-url", url]) == 0
    assert "typed networks of 'go_no_go_delay'" in capsys.readouterr().out

    out = tmp_path / "dgng"
    assert main(["export", "--out", str(out), "--task", "dgng", "--database-url", url]) == 0
    networks = json.loads((out / "networks.json").read_text())
    assert networks and {row["task"] for row in networks} == {"go_no_go_delay"}
    selection = json.loads((out / "dataset.json").read_text())["selection"]
    assert selection["filters"] == {"task": "go_no_go_delay"}
    capsys.readouterr()
    assert main(["import", str(out), "--database-url", url]) == 0  # the declaration is here
    assert f"0 networks imported, {len(networks)} already in the atlas" in capsys.readouterr().out

    assert main(["types", "--task", "no_such_task", "--database-url", url]) == 2
    assert "unknown task 'no_such_task'" in capsys.readouterr().err


def test_cli_checks_and_adds_a_declaration(client, tmp_path, capsys):
    url = client.app.state.settings.database_url
    assert main(["task", "check", str(DECLARATION)]) == 0
    data = yaml.safe_load(DECLARATION.read_text())
    data["parameters"]["delay_max"] = 8
    changed = tmp_path / "v2.json"
    changed.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["task", "add", str(changed), "--database-url", url]) == 0
    assert '"version": 2' in capsys.readouterr().out
    assert client.get("/tasks/go_no_go_delay").json()["version"] == 2

    data["periods"][0]["inputs"] = {"cues": "cue"}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    assert main(["task", "add", str(broken), "--database-url", url]) == 2
    assert "unknown input channel 'cues'" in capsys.readouterr().err
