"""A population trained in the atlas yields several solution types per task, stored, queryable
and comparable through the API.

The recipes of `trained_populations` (a few dozen networks per task on shortened variants of
delayed, interval and reproduction) are submitted as jobs to the API on PostgreSQL; the
in-process worker trains and analyses them. Then, per task variant: every solution's graph
shows each answer, `/types` lists several types whose members are the solutions (validation
loss below 2e-4), `/solutions?type=` finds each type's members, `/compare` tells networks of
one type from networks of two, `/compare/matrix` agrees with it, and `/classify` predicts among the
variant's types and reports the stored one.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from migrated_app import migrated_app_client
from trained_populations import RECIPES

from atlas.network_status import solves_task
from atlas.tasks import get_task, variant_key

API_KEY = "population-key-0123456789"
WRITE = {"X-API-Key": API_KEY}
TRAINING_TIMEOUT_S = 1800
MIN_CONVERGED = 12
MIN_TYPES = 3

pytestmark = [pytest.mark.postgresql, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with migrated_app_client("postgresql", tmp_path_factory.mktemp("trained"), API_KEY) as c:
        yield c


def job_specs(task: str) -> list[dict]:
    """The recipe's populations as job requests."""
    recipe = RECIPES[task]
    return [
        {
            "task": task,
            "architecture": population.architecture,
            "units": population.units,
            "count": population.count,
            "seed": population.seed,
            "task_parameters": recipe.task_parameters,
            "training": recipe.training,
        }
        for population in recipe.populations
    ]


def wait_until_analysed(client: TestClient, job_ids: list[int]) -> list[dict]:
    """Every network of the jobs once trained and analysed (the jobs must succeed)."""
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    pending = list(job_ids)
    while pending and time.monotonic() < deadline:
        job = client.get(f"/jobs/{pending[0]}").json()
        assert job["status"] != "failed", job
        if job["status"] in ("succeeded", "partially_succeeded"):
            pending.pop(0)
        else:
            time.sleep(1.0)
    assert not pending, f"jobs {pending} not trained in {TRAINING_TIMEOUT_S} s"
    networks = []
    for job_id in job_ids:
        page = client.get("/solutions", params={"job": job_id, "limit": 500}).json()
        networks += page["items"]
    while time.monotonic() < deadline:
        states = [client.get(f"/solutions/{n['id']}").json()["analysis_status"] for n in networks]
        if all(state in ("done", "failed") for state in states):
            return [client.get(f"/solutions/{n['id']}").json() for n in networks]
        time.sleep(1.0)
    pytest.fail(f"networks of jobs {job_ids} not analysed in {TRAINING_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def populations(client) -> dict[str, list[dict]]:
    """Per task, every network of its recipe, trained and analysed by the atlas."""
    job_ids = {}
    for task in RECIPES:
        for spec in job_specs(task):
            response = client.post("/jobs", json=spec, headers=WRITE)
            assert response.status_code == 202, response.text
            job_ids.setdefault(task, []).append(response.json()["id"])
    return {task: wait_until_analysed(client, ids) for task, ids in job_ids.items()}


@pytest.fixture(scope="module")
def type_tables(client, populations) -> dict[str, dict]:
    """Per task, the type table of its recipe's variant."""
    tables = {}
    for task in populations:
        variant = variant_key(get_task(task, **RECIPES[task].task_parameters))
        response = client.get("/types", params={"task": task, "variant": variant})
        assert response.status_code == 200, response.text
        tables[task] = response.json()
        # Only the recipe's variant has types: it is the one shown when none is asked for.
        assert client.get("/types", params={"task": task}).json() == tables[task]
    return tables


@pytest.mark.parametrize("task", list(RECIPES))
def test_each_task_gets_several_types_of_its_converged_networks(task, populations, type_tables):
    networks, table = populations[task], type_tables[task]
    converged = [n for n in networks if n["status"] == "converged"]
    solutions = [n for n in networks if solves_task(n["validation_loss"])]
    counts = {t["name"]: t["members"] for t in table["types"]}
    print(f"{task}: {len(converged)}/{len(networks)} converged; types {counts}")
    assert len(converged) >= MIN_CONVERGED
    assert all(n["analysis_status"] == "done" for n in solutions)
    assert len(table["types"]) >= MIN_TYPES
    # Every solution is typed, also one whose training ended between 2e-5 and 2e-4.
    assert table["networks"] == len(solutions) == sum(counts.values())
    assert {n["solution_type"] for n in solutions} == set(counts)
    assert all(n["solution_type"] is None for n in networks if n not in solutions)
    assert table["task_parameters"] == get_task(task, **RECIPES[task].task_parameters).parameters()
    assert table["variant"] in {v["variant"] for v in table["variants"]}
    assert all(name.startswith(f"{task}.{table['variant']}-") for name in counts)


@pytest.mark.parametrize("task", list(RECIPES))
def test_the_graph_probes_fit_the_shortened_tasks(client, task, populations):
    """Every solution's stored compact graph shows each of the variant's answers: the graph's
    input events lie inside the shortened task's trained range."""
    variant = get_task(task, **RECIPES[task].task_parameters)
    answers = set(np.unique(variant.output_label(variant.validation_set().targets.numpy())))
    for network in populations[task]:
        if not solves_task(network["validation_loss"]):
            continue
        compact = client.get(f"/solutions/{network['id']}/graph").json()["compact"]
        assert {node["output"] for node in compact["nodes"]} == answers, network["id"]


@pytest.mark.parametrize("task", list(RECIPES))
def test_types_are_queryable_by_name(client, task, populations, type_tables):
    by_type: dict[str, set[int]] = {}
    for network in populations[task]:
        if network["solution_type"] is not None:
            by_type.setdefault(network["solution_type"], set()).add(network["id"])
    for kind in type_tables[task]["types"]:
        listed = client.get(
            "/solutions", params={"task": task, "type": kind["name"], "limit": 500}
        ).json()["items"]
        assert {s["id"] for s in listed} == by_type[kind["name"]]
        detail = client.get(kind["links"]["self"], params={"limit": 500}).json()
        assert {m["id"] for m in detail["member_page"]} == by_type[kind["name"]]


@pytest.mark.parametrize("task", list(RECIPES))
def test_comparison_tells_one_type_from_two(client, task, populations, type_tables):
    """A pair within the largest type compares as one type at edit distance 0 (where a type
    has two members), pairs across types as two at a positive distance; the matrix holds the
    same verdicts."""
    members: dict[str, list[int]] = {}
    for network in populations[task]:
        if network["solution_type"] is not None:
            members.setdefault(network["solution_type"], []).append(network["id"])
    largest, second = (t["name"] for t in type_tables[task]["types"][:2])
    ids = members[largest][:2] + members[second][:1]
    matrix = client.get("/compare/matrix", params={"ids": ",".join(map(str, ids))}).json()
    for i, j in itertools.combinations(range(len(ids)), 2):
        same = j < len(ids) - 1  # the last id is the only one of the second type
        body = client.get("/compare", params={"a": ids[i], "b": ids[j]}).json()
        assert body["same_type"] is same, body
        assert (body["graph_edit_distance"] == 0) is same, body
        assert -1e-9 <= body["procrustes_similarity"] <= 1 + 1e-9
        assert matrix["matrices"]["same_type"][i][j] == float(same)
        assert matrix["matrices"]["graph_edit_distance"][i][j] == pytest.approx(
            body["graph_edit_distance"]
        )
    for i, j in itertools.product(range(len(ids)), repeat=2):
        assert matrix["matrices"]["same_type"][i][j] == matrix["matrices"]["same_type"][j][i]


@pytest.mark.parametrize("task", list(RECIPES))
def test_classify_predicts_among_the_variants_types(client, task, populations, type_tables):
    names = {t["name"] for t in type_tables[task]["types"]}
    network = next(n for n in populations[task] if n["solution_type"] is not None)
    assert sum(t["members"] >= 2 for t in type_tables[task]["types"]) >= 2
    response = client.post("/classify", json={"network_id": network["id"]}, headers=WRITE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predicted_type"]["name"] in names
    assert {p["type"]["name"] for p in body["probabilities"]} <= names
    assert sum(p["probability"] for p in body["probabilities"]) == pytest.approx(1.0)
    assert body["actual_type"]["name"] == network["solution_type"]
    assert body["actual_status"] == "stored"


@pytest.mark.parametrize("task", list(RECIPES))
def test_the_type_predictor_is_scored_on_the_variants_counted_types(client, task, type_tables):
    response = client.get("/classify/predictor", params={"task": task})
    assert response.status_code == 200, response.text
    body = response.json()
    counted = {t["name"]: t["members"] for t in type_tables[task]["types"] if t["members"] >= 2}
    assert body["variant"] == type_tables[task]["variant"]
    assert {t["name"]: t["members"] for t in body["types"]} == counted
    assert body["networks"] == sum(counted.values())
    assert body["test_share"] == pytest.approx(max(0.1, len(counted) / sum(counted.values())))
    assert len(body["kappa_per_split"]) == body["splits"] == 50
    assert -1.0 <= body["kappa_mean"] <= 1.0
    print(f"{task}: kappa {body['kappa_mean']:.2f} +- {body['kappa_std']:.2f} on {counted}")
