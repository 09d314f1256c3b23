"""The analysis endpoints on SQLite and on the real PostgreSQL: reference networks (vanilla, GRU,
LSTM) imported through the API and analysed in-process by the worker's steps, then their fixed
points, limit cycles, signatures (JSON and .npy), plots, graphs, types, comparisons and
classifications read back; a small two-neuron study trained and its regimes served; and the
errors, all problem+json."""

from __future__ import annotations

import io
import itertools
import time
from collections import Counter
from xml.etree import ElementTree

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from migrated_app import migrated_app_client
from test_api_errors import CodeCarrier
from throwaway_databases import BACKENDS

from api.classification import MIN_MEMBERS
from api.npy import NPY_MEDIA_TYPE
from api.problems import PROBLEM_MEDIA_TYPE
from atlas.analysis.classifier import TREES, type_predictor_kappa
from atlas.analysis.features import feature_names
from atlas.networks import from_state_dicts
from atlas.store import save_imported_network
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse
from worker.steps import STEPS

API_KEY = "analyses-key-0123456789"
WRITE = {"X-API-Key": API_KEY}
# Two pairs of one type each across architectures (the paper's graphs say so), and a
# discrimination network for the decision map.
IMPORTED = (
    "reproduction_vanilla_20_i100",
    "reproduction_gru_30_i100",
    "reproduction_gru_40_i100",
    "reproduction_lstm_20_i100",
    "delayed_vanilla_20_i100",
)
REPRODUCTION = IMPORTED[:4]
ANALYSIS_TIMEOUT_S = 300
STUDY = {"count": 32, "seed": 3, "training": {"max_steps": 80}, "name": "api-test"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory):
    """The app on a freshly migrated database of each backend, analyses running in-process."""
    with migrated_app_client(request.param, tmp_path_factory.mktemp(request.param), API_KEY) as c:
        yield c


@pytest.fixture(scope="module")
def references(reference_networks):
    return {reference.name: reference for reference in reference_networks}


def wait_for_analysis(client: TestClient, solution_id: int) -> dict:
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_S
    while time.monotonic() < deadline:
        detail = client.get(f"/solutions/{solution_id}").json()
        if detail["analysis_status"] in ("done", "failed"):
            return detail
        time.sleep(0.5)
    pytest.fail(f"solution {solution_id} not analysed in {ANALYSIS_TIMEOUT_S} s: {detail}")


@pytest.fixture(scope="module")
def solutions(client, references) -> dict[str, dict]:
    """The IMPORTED networks imported through the API and analysed: name -> solution detail."""
    ids = {}
    for name in IMPORTED:
        response = client.post(
            "/solutions/import",
            headers=WRITE,
            data={"task": references[name].task, "name": name},
            files={"file": ("weights.pt", references[name].weights_path.read_bytes())},
        )
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    return {name: wait_for_analysis(client, solution_id) for name, solution_id in ids.items()}


@pytest.fixture(scope="module")
def study(client) -> dict:
    """A small two-neuron study started through the API, trained, classified and mapped by the
    worker in-process."""
    response = client.post("/tasks/two_neuron/studies", json=STUDY, headers=WRITE)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    location = response.headers["Location"]
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_S
    while time.monotonic() < deadline:
        body = client.get(location).json()
        if body["status"] in ("succeeded", "partially_succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.5)
    pytest.fail(f"two-neuron study {location} did not finish in {ANALYSIS_TIMEOUT_S} s")


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body = response.json()
    assert body["status"] == status and body["type"].endswith(f"/{slug}"), body
    assert body["detail"]
    return body


def load_npy(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == NPY_MEDIA_TYPE
    return np.load(io.BytesIO(response.content), allow_pickle=False)


def state_size(detail: dict) -> int:
    return detail["units"] * (2 if detail["architecture"] == "lstm" else 1)


def as_float(values) -> np.ndarray:
    """JSON lists with null for NaN, as a float array."""
    return np.array(values, dtype=object).astype(float)


# --- the analyses ran ------------------------------------------------------------------------


def test_every_analysis_step_ran_on_every_imported_network(solutions):
    for name, detail in solutions.items():
        assert detail["analysis_status"] == "done", (name, detail["analyses"])
        states = {a["step"]: a["status"] for a in detail["analyses"]}
        assert states == {step.name: "succeeded" for step in STEPS}, name
        assert detail["solution_type"], name


# --- fixed points, limit cycles, extrapolation ---------------------------------------------


def test_fixed_points_json_lists_every_condition_with_described_points(client, solutions):
    for name, detail in solutions.items():
        body = client.get(f"/solutions/{detail['id']}/fixed-points").json()
        conditions = body["conditions"]
        assert conditions[0]["condition"] == "zero" and conditions[0]["inputs"] == [0.0, 0.0]
        assert len(conditions) > 1, name  # zero input and each input level of the task
        points = [p for c in conditions for p in c["points"]]
        assert points, name
        for condition in conditions:
            assert condition["count"] == len(condition["points"])
        for point in points:
            assert len(point["state"]) == state_size(detail)
            assert len(point["eigenvalues"]) == state_size(detail)
            assert point["jacobian"] is None
            assert point["kind"] in ("fixed", "slow")
            if point["kind"] == "fixed":
                assert point["q"] < 1e-10, (name, point["q"])
        assert "states" in body["arrays"]


def test_fixed_points_npy_round_trip_matches_the_json(client, solutions):
    detail = solutions["reproduction_lstm_20_i100"]
    url = f"/solutions/{detail['id']}/fixed-points"
    body = client.get(url, params={"jacobians": "true"}).json()
    points = [p for c in body["conditions"] for p in c["points"]]

    def npy(name: str, **params) -> np.ndarray:
        return load_npy(client.get(url, params={"format": "npy", "array": name, **params}))

    states = npy("states")
    assert states.shape == (len(points), state_size(detail))
    np.testing.assert_array_equal(states, [p["state"] for p in points])
    np.testing.assert_array_equal(npy("jacobians"), [p["jacobian"] for p in points])
    np.testing.assert_array_equal(npy("q"), [p["q"] for p in points])
    np.testing.assert_array_equal(npy("stable"), [p["stable"] for p in points])
    assert npy("kinds").tolist() == [p["kind"] for p in points]
    labels = [c["condition"] for c in body["conditions"] for _ in c["points"]]
    assert npy("conditions").tolist() == labels
    eigenvalues = npy("eigenvalues")
    assert eigenvalues.dtype == np.complex128
    for row, point in zip(eigenvalues, points, strict=True):  # JSON sorts by modulus
        listed = np.sort_complex([complex(re, im) for re, im in point["eigenvalues"]])
        np.testing.assert_allclose(np.sort_complex(row), listed, rtol=1e-12, atol=1e-15)

    zero = client.get(url, params={"array": "states", "condition": "zero"},
                      headers={"Accept": NPY_MEDIA_TYPE})  # fmt: skip
    assert load_npy(zero).shape[0] == body["conditions"][0]["count"]
    assert "filename=" in zero.headers["content-disposition"]


def test_limit_cycles_json_and_npy_agree(client, solutions):
    for name, detail in solutions.items():
        url = f"/solutions/{detail['id']}/limit-cycles"
        body = client.get(url).json()
        assert body["conditions"][0]["condition"] == "zero"
        cycles = [c for condition in body["conditions"] for c in condition["cycles"]]
        assert [c["index"] for c in cycles] == list(range(len(cycles)))
        periods = load_npy(client.get(url, params={"format": "npy", "array": "periods"}))
        np.testing.assert_array_equal(periods, [c["period"] for c in cycles])
        for cycle in cycles:
            assert cycle["period"] > 1 and cycle["closing_error"] < 0.05, name
            states = np.array(cycle["states"])
            assert states.shape[1] == state_size(detail)
            assert len(cycle["outputs"]) == len(states)
        if cycles:
            params = {"format": "npy", "array": "states", "cycle": 0}
            np.testing.assert_array_equal(
                load_npy(client.get(url, params=params)), cycles[0]["states"]
            )
            slim = client.get(url, params={"states": "false"}).json()
            assert all(c["states"] is None for cond in slim["conditions"] for c in cond["cycles"])


def test_extrapolation_of_reproduction_reproduces_ts_over_the_training_range(client, solutions):
    task = get_task("reproduction")
    for name in REPRODUCTION:
        url = f"/solutions/{solutions[name]['id']}/extrapolation"
        body = client.get(url).json()
        assert body["task"] == "reproduction"
        ts, tp = np.array(body["arrays"]["ts"]), as_float(body["arrays"]["tp"])
        inside = (ts >= task.ts_min) & (ts <= task.ts_max)
        assert inside.sum() > 10
        assert np.abs(tp[inside] - ts[inside]).max() <= 2, name
        assert body["summary"]["accuracy_in_range"] == 1.0
        npy_tp = load_npy(client.get(url, params={"format": "npy", "array": "tp"}))
        np.testing.assert_array_equal(npy_tp, tp)  # NaN where JSON says null


def test_extrapolation_of_delayed_has_a_decision_map(client, solutions):
    url = f"/solutions/{solutions['delayed_vanilla_20_i100']['id']}/extrapolation"
    body = client.get(url).json()
    grid = as_float(body["arrays"]["decision_map"])
    axis = body["arrays"]["axis"]
    assert grid.shape == (len(axis), len(axis))
    assert set(np.unique(grid[np.isfinite(grid)])) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(
        load_npy(client.get(url, params={"format": "npy", "array": "decision_map"})), grid
    )


# --- graphs and pictures -------------------------------------------------------------------


def test_graph_gives_compact_and_full_node_link_with_the_type(client, solutions):
    for name, detail in solutions.items():
        body = client.get(f"/solutions/{detail['id']}/graph").json()
        compact, full = body["compact"], body["full"]
        assert body["solution_type"] == detail["solution_type"]
        assert body["nodes"] == len(compact["nodes"]) and body["edges"] == len(compact["edges"])
        assert 0 in {n["id"] for n in compact["nodes"]}, name
        assert len(full["nodes"]) >= len(compact["nodes"]), name
        if name not in ("reproduction_lstm_20_i100", "delayed_vanilla_20_i100"):
            continue
        svg = client.get(body["links"]["svg"])
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert ElementTree.fromstring(svg.content).tag.endswith("svg")
        assert b"start" in svg.content and detail["solution_type"].encode() in svg.content


def test_plots_are_png_images(client, solutions):
    for name, plot in [
        ("reproduction_vanilla_20_i100", "trajectories.png"),
        ("reproduction_lstm_20_i100", "trajectories.png?condition=all"),
        ("reproduction_gru_30_i100", "tp.png"),
        ("delayed_vanilla_20_i100", "decisions.png"),
    ]:
        response = client.get(f"/solutions/{solutions[name]['id']}/plots/{plot}")
        assert response.status_code == 200, (name, plot, response.text)
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(PNG_MAGIC) and len(response.content) > 5000
    reproduction = solutions["reproduction_gru_30_i100"]["id"]
    delayed = solutions["delayed_vanilla_20_i100"]["id"]
    assert_problem(client.get(f"/solutions/{delayed}/plots/tp.png"), 404, "plot-not-applicable")
    assert_problem(
        client.get(f"/solutions/{reproduction}/plots/decisions.png"), 404, "plot-not-applicable"
    )
    assert_problem(
        client.get(f"/solutions/{reproduction}/plots/trajectories.png?condition=nope"),
        404,
        "condition-not-found",
    )


# --- types -----------------------------------------------------------------------------------


def test_types_list_counts_by_architecture_and_size_with_coverage(client, solutions):
    table = client.get("/types", params={"task": "rsg"}).json()
    assert table["task"] == "reproduction"
    members = [solutions[name] for name in REPRODUCTION]
    assert table["networks"] == len(members)
    assert sum(t["members"] for t in table["types"]) == len(members)
    assert [t["members"] for t in table["types"]] == sorted(
        (t["members"] for t in table["types"]), reverse=True
    )
    assert table["coverage"] == 1.0  # every type holds at least 2.5% of four networks
    by_type = {t["name"]: t for t in table["types"]}
    assert set(by_type) == {m["solution_type"] for m in members}
    for kind in table["types"]:
        mine = [m for m in members if m["solution_type"] == kind["name"]]
        assert kind["by_architecture"] == Counter(m["architecture"] for m in mine)
        assert kind["by_units"] == {str(u): n for u, n in Counter(m["units"] for m in mine).items()}
        assert kind["share"] == pytest.approx(kind["members"] / len(members))
        assert {n["id"] for n in kind["graph"]["nodes"]} >= {0}
        picture = client.get(kind["links"]["graph_svg"])
        assert ElementTree.fromstring(picture.content).tag.endswith("svg")
        assert kind["name"].encode() in picture.content
    assert client.get("/types", params={"task": "interval"}).json()["types"] == []
    assert table["variant"] == "default"
    assert table["task_parameters"] == get_task("reproduction").parameters()
    (variant,) = table["variants"]
    assert (variant["variant"], variant["networks"]) == ("default", len(members))
    assert client.get(variant["link"]).json() == table
    missing = client.get("/types", params={"task": "reproduction", "variant": "p0000"})
    assert_problem(missing, 404, "variant-not-found")


def test_type_members_page_and_match_the_solutions_type_filter(client, solutions):
    table = client.get("/types", params={"task": "reproduction"}).json()
    for kind in table["types"]:
        walked, page = [], client.get(kind["links"]["self"], params={"limit": 1}).json()
        walked += page["member_page"]
        while page["next"]:
            page = client.get(page["next"]).json()
            walked += page["member_page"]
        assert page["name"] == kind["name"] and page["members"] == kind["members"]
        listed = client.get(kind["links"]["solutions"]).json()["items"]
        assert sorted(m["id"] for m in walked) == sorted(s["id"] for s in listed)
        assert len(walked) == kind["members"]
        assert {s["solution_type"] for s in listed} == {kind["name"]}
    forged = client.get(table["types"][0]["links"]["self"], params={"cursor": "abc.def"})
    assert_problem(forged, 400, "invalid-cursor")


# --- comparison ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comparisons(client, solutions) -> dict[tuple[str, str], dict]:
    """/compare of every pair of the reproduction networks (and the LSTM with itself)."""
    pairs = [*itertools.combinations(REPRODUCTION, 2), (REPRODUCTION[3], REPRODUCTION[3])]
    found = {}
    for first, second in pairs:
        params = {"a": solutions[first]["id"], "b": solutions[second]["id"]}
        response = client.get("/compare", params=params)
        assert response.status_code == 200, response.text
        found[first, second] = response.json()
    return found


def test_compare_across_architectures_and_sizes(solutions, comparisons):
    for (first, second), body in comparisons.items():
        a, b = solutions[first], solutions[second]
        assert (body["a"]["architecture"], body["b"]["units"]) == (a["architecture"], b["units"])
        same = a["solution_type"] == b["solution_type"]
        assert body["same_type"] is same, (first, second)
        assert (body["graph_edit_distance"] == 0) is same
        assert 0 < body["procrustes_similarity"] <= 1 + 1e-9
        assert 0 < body["cca_similarity"] <= 1 + 1e-9
        assert 0 <= body["signature_distance"] <= 1
        assert body["fixed_point_difference"] >= 0 and len(body["fixed_point_counts"]) == 2
        assert body["components"] >= 1
    architectures = {(solutions[a]["architecture"], solutions[b]["architecture"])
                     for a, b in comparisons}  # fmt: skip
    assert {("vanilla", "gru"), ("vanilla", "lstm"), ("gru", "lstm")} <= architectures
    itself = comparisons[REPRODUCTION[3], REPRODUCTION[3]]
    assert itself["same_type"] is True and itself["graph_edit_distance"] == 0
    assert itself["fixed_point_difference"] == 0 and itself["signature_distance"] == 0
    assert itself["procrustes_similarity"] == pytest.approx(1.0)
    assert itself["cca_similarity"] == pytest.approx(1.0)


def test_comparison_matrix_is_the_pairwise_comparisons(client, solutions, comparisons):
    names = REPRODUCTION[:3]
    ids = [solutions[name]["id"] for name in names]
    body = client.get("/compare/matrix", params={"ids": ",".join(map(str, ids))}).json()
    assert [s["id"] for s in body["solutions"]] == ids
    for i, j in itertools.combinations(range(len(ids)), 2):
        pair = comparisons[names[i], names[j]]
        for view, matrix in body["matrices"].items():
            assert matrix[i][j] == matrix[j][i]
            assert matrix[i][j] == pytest.approx(float(pair[view])), view
    assert all(body["matrices"]["same_type"][i][i] == 1.0 for i in range(len(ids)))


# --- classification --------------------------------------------------------------------------


def test_classify_by_id_predicts_among_the_types_and_gives_the_stored_type(client, solutions):
    table = client.get("/types", params={"task": "reproduction"}).json()
    counted = {t["name"] for t in table["types"] if t["members"] >= MIN_MEMBERS}
    assert len(counted) >= 2, f"the imported networks must give two types of 2+: {table}"
    for name in REPRODUCTION:
        detail = solutions[name]
        response = client.post("/classify", json={"network_id": detail["id"]}, headers=WRITE)
        assert response.status_code == 200, response.text
        body = response.json()
        names = [p["type"]["name"] for p in body["probabilities"]]
        assert set(names) == counted
        probabilities = [p["probability"] for p in body["probabilities"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) == pytest.approx(1.0)
        assert body["predicted_type"] == body["probabilities"][0]["type"]
        assert body["actual_status"] == "stored"
        assert body["actual_type"]["name"] == detail["solution_type"]
        assert body["validation_loss"] == detail["validation_loss"]
        assert body["predictor"]["includes_this_network"] is True
        assert body["predictor"]["min_members"] == MIN_MEMBERS
        assert list(body["features"]) == list(feature_names(get_task("reproduction")))


def test_classify_an_upload_matches_its_graph_to_the_stored_type(client, solutions, references):
    name = "reproduction_gru_30_i100"
    reference = references[name]
    response = client.post(
        "/classify",
        headers=WRITE,
        data={"task": "interval_reproduction"},
        files={"file": ("w.pt", reference.weights_path.read_bytes())},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["network_id"] is None and body["task"] == "reproduction"
    assert body["actual_status"] == "matched"
    assert body["actual_type"]["name"] == solutions[name]["solution_type"]
    expected_loss = population_mse(
        from_state_dicts([reference.state_dict]), get_task("reproduction").validation_set()
    )
    assert body["validation_loss"] == pytest.approx(float(expected_loss[0]))
    assert body["predictor"]["includes_this_network"] is False
    by_id = client.post("/classify", json={"network_id": solutions[name]["id"]}, headers=WRITE)
    assert by_id.json()["features"] == pytest.approx(body["features"], rel=1e-9)


def test_classify_an_upload_that_is_no_solution_gives_no_actual_type(client, solutions, references):
    """Its readout halved, a reference network no longer solves its task: the forest still
    predicts (from its features), but no graph is typed, as the analysis would not type it."""
    weights = dict(references["reproduction_gru_30_i100"].state_dict)
    weights["fc.weight"] = weights["fc.weight"] * 0.5
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    files = {"file": ("w.pt", buffer.getvalue())}
    response = client.post("/classify", headers=WRITE, data={"task": "reproduction"}, files=files)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["validation_loss"] >= 2e-4
    assert body["actual_status"] == "skipped" and body["actual_type"] is None
    assert "no solution" in body["actual_detail"]
    assert body["predicted_type"] == body["probabilities"][0]["type"]


def test_classify_needs_two_types_with_enough_members(client, solutions):
    delayed = solutions["delayed_vanilla_20_i100"]["id"]
    response = client.post("/classify", json={"network_id": delayed}, headers=WRITE)
    assert assert_problem(response, 409, "not-enough-typed-networks")["min_members"] == 2
    score = client.get("/classify/predictor", params={"task": "delayed"})
    assert assert_problem(score, 409, "not-enough-typed-networks")["min_members"] == 2


def test_predictor_score_is_the_papers_kappa_over_stratified_splits(client, solutions):
    response = client.get("/classify/predictor", params={"task": "rsg"})
    assert response.status_code == 200, response.text
    body = response.json()
    members = sorted(solutions[name]["id"] for name in REPRODUCTION)
    type_ids = {t["name"]: t["id"] for t in client.get("/types?task=reproduction").json()["types"]}
    assert (body["task"], body["variant"], body["networks"]) == ("reproduction", "default", 4)
    assert sorted(t["members"] for t in body["types"]) == [2, 2]
    # Four networks of two types: a 90/10 split would hold out no network of some type.
    assert (body["splits"], body["test_share"], body["trees"]) == (50, 0.5, TREES)
    # The same score from the networks' features and types, computed here.
    classified = {
        n: client.post("/classify", json={"network_id": n}, headers=WRITE).json() for n in members
    }
    features = np.array([list(classified[n]["features"].values()) for n in members])
    labels = np.array([type_ids[classified[n]["actual_type"]["name"]] for n in members])
    expected = type_predictor_kappa(features, labels, 50, 0.5, 0, min_members=2)
    assert body["kappa_per_split"] == pytest.approx(expected.per_split.tolist())
    assert body["kappa_mean"] == pytest.approx(expected.mean)
    assert body["kappa_std"] == pytest.approx(expected.std)
    assert all(-1.0 <= k <= 1.0 for k in body["kappa_per_split"])
    for params, status, code in [
        ({"task": "reproduction", "variant": "p0000"}, 404, "variant-not-found"),
        ({"task": "no-such-task"}, 422, "unknown-task"),
    ]:
        assert_problem(client.get("/classify/predictor", params=params), status, code)


# --- two-neuron study ------------------------------------------------------------------------


def test_two_neuron_regimes_count_the_study_and_serve_its_maps(client, study):
    # Partially succeeded: some networks did not solve the task in 80 steps.
    assert study["status"] in ("succeeded", "partially_succeeded"), study
    assert study["n"] == STUDY["count"]
    for rule in (study["eigenvalue_rule"], study["dynamics"]):
        assert sum(rule["regimes_all"].values()) <= study["n"]
        assert all(rule["regimes_solved"][k] <= n for k, n in rule["regimes_all"].items())
    assert sum(study["eigenvalue_rule"]["regimes_all"].values()) == study["n"]
    assert sum(study["eigenvalue_rule"]["regimes_solved"].values()) == study["solved"]
    assert 0 <= study["agreement"] <= 1
    assert study["maps"]
    for entry in study["maps"]:
        response = client.get(entry["url"])
        assert response.status_code == 200, response.text
        assert response.content.startswith(PNG_MAGIC)
    latest = client.get("/tasks/two_neuron/regimes").json()
    assert latest["study_id"] == study["study_id"]
    missing = client.get("/tasks/two_neuron/regimes/maps/nope.png")
    assert_problem(missing, 404, "map-not-found")
    assert_problem(client.get("/tasks/two_neuron/regimes?study=999999"), 404, "study-not-found")


def test_a_study_needs_the_key_and_a_valid_request(client):
    studies = "/tasks/two_neuron/studies"
    assert_problem(client.post(studies, json=STUDY), 401, "missing-api-key")
    bad_count = client.post(studies, json={**STUDY, "count": 0}, headers=WRITE)
    assert_problem(bad_count, 422, "validation-error")
    bad_option = client.post(studies, json={**STUDY, "training": {"nope": 1}}, headers=WRITE)
    assert_problem(bad_option, 422, "validation-error")  # the training options are a schema
    bad_parameter = client.post(
        studies, json={**STUDY, "task_parameters": {"dt": -1}}, headers=WRITE
    )
    assert_problem(bad_parameter, 422, "invalid-study")


# --- errors ----------------------------------------------------------------------------------


def test_unknown_solution_or_type_is_a_404_problem(client):
    for path in (
        "fixed-points",
        "limit-cycles",
        "extrapolation",
        "graph",
        "plots/trajectories.png",
        "plots/tp.png",
        "plots/decisions.png",
        "plots/graph.svg",
    ):
        assert_problem(client.get(f"/solutions/999999/{path}"), 404, "solution-not-found")
    assert_problem(client.get("/types/999999"), 404, "type-not-found")
    assert_problem(client.get("/types/999999/graph.svg"), 404, "type-not-found")
    assert_problem(client.get("/types", params={"task": "nope"}), 422, "unknown-task")


def test_a_pending_analysis_is_a_404_problem_saying_so(client, references):
    reference = references["interval_vanilla_20_i100"]
    task = get_task("interval")
    with client.app.state.sessions() as session:  # stored, never queued: analyses pending
        network = save_imported_network(session, task, reference.state_dict, 1e-4, name="idle")
        session.commit()
        network_id = network.id
    for path, step in [
        ("fixed-points", "fixed_points"),
        ("limit-cycles", "limit_cycles"),
        ("extrapolation", "extrapolation"),
        ("graph", "graph"),
        ("plots/trajectories.png", "fixed_points"),
        ("plots/decisions.png", "extrapolation"),
        ("plots/graph.svg", "graph"),
    ]:
        body = assert_problem(
            client.get(f"/solutions/{network_id}/{path}"), 404, "analysis-not-available"
        )
        assert (body["step"], body["analysis_status"]) == (step, "pending")
    response = client.post("/classify", json={"network_id": network_id}, headers=WRITE)
    assert_problem(response, 409, "not-enough-typed-networks")


def test_npy_requests_name_an_existing_array(client, solutions):
    url = f"/solutions/{solutions['reproduction_vanilla_20_i100']['id']}"
    body = assert_problem(client.get(f"{url}/extrapolation?format=npy"), 422, "array-required")
    assert "tp" in body["available"]
    assert_problem(client.get(f"{url}/fixed-points?format=npy&array=nope"), 404, "array-not-found")
    assert_problem(client.get(f"{url}/limit-cycles?format=npy&array=states"), 422, "cycle-required")
    assert_problem(
        client.get(f"{url}/limit-cycles?format=npy&array=states&cycle=99"),
        404,
        "cycle-not-found",
    )
    assert_problem(client.get(f"{url}/fixed-points?condition=nope"), 404, "condition-not-found")


def test_bad_comparisons_are_4xx_problems(client, solutions):
    reproduction = solutions["reproduction_vanilla_20_i100"]["id"]
    delayed = solutions["delayed_vanilla_20_i100"]["id"]
    assert_problem(
        client.get("/compare", params={"a": reproduction, "b": 999999}), 404, "solution-not-found"
    )
    assert_problem(
        client.get("/compare", params={"a": reproduction, "b": delayed}), 422, "different-tasks"
    )
    assert_problem(client.get("/compare", params={"a": "x", "b": 1}), 422, "validation-error")
    matrix = "/compare/matrix"
    too_many = ",".join(str(i) for i in range(1, 23))
    assert_problem(client.get(matrix, params={"ids": too_many}), 422, "too-many-ids")
    assert_problem(client.get(matrix, params={"ids": f"{reproduction},x"}), 422, "invalid-ids")
    assert_problem(client.get(matrix, params={"ids": str(reproduction)}), 422, "invalid-ids")
    twice = f"{reproduction},{reproduction}"
    assert_problem(client.get(matrix, params={"ids": twice}), 422, "invalid-ids")
    assert_problem(
        client.get(matrix, params={"ids": f"{reproduction},{delayed}"}), 422, "different-tasks"
    )


def test_classify_refuses_without_key_bad_bodies_and_unsafe_uploads(client, tmp_path, solutions):
    some_id = {"network_id": solutions["reproduction_vanilla_20_i100"]["id"]}
    assert_problem(client.post("/classify", json=some_id), 401, "missing-api-key")
    assert_problem(
        client.post("/classify", json=some_id, headers={"X-API-Key": "wrong"}), 403,
        "invalid-api-key",
    )  # fmt: skip
    assert_problem(
        client.post("/classify", json={"network_id": 999999}, headers=WRITE),
        404,
        "solution-not-found",
    )
    malformed = client.post(
        "/classify", content=b"{oops", headers={**WRITE, "Content-Type": "application/json"}
    )
    assert_problem(malformed, 400, "malformed-json")
    assert_problem(client.post("/classify", json={"id": 1}, headers=WRITE), 422, "validation-error")
    text = client.post("/classify", content=b"hi", headers={**WRITE, "Content-Type": "text/plain"})
    assert_problem(text, 415, "unsupported-media-type")

    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": CodeCarrier(marker)}, buffer)
    unsafe = client.post(
        "/classify",
        headers=WRITE,
        data={"task": "reproduction"},
        files={"file": ("w.pt", buffer.getvalue())},
    )
    assert "safe" in assert_problem(unsafe, 422, "invalid-state-dict")["detail"]
    assert not marker.exists()
    assert_problem(
        client.post("/classify", headers=WRITE, data={"task": "reproduction"}),
        422,
        "invalid-upload",
    )


def test_classify_refuses_unknown_tasks_and_networks_that_do_not_fit(client, references):
    weights = references["reproduction_vanilla_20_i100"].state_dict
    wide = {**weights, "fc.weight": weights["fc.weight"].repeat(2, 1)}
    wide["fc.bias"] = weights["fc.bias"].repeat(2)
    buffer = io.BytesIO()
    torch.save(wide, buffer)

    def upload(task: str, payload: bytes):
        files = {"file": ("w.pt", payload)}
        return client.post("/classify", headers=WRITE, data={"task": task}, files=files)

    assert_problem(upload("reproduction", buffer.getvalue()), 422, "shape-mismatch")
    assert_problem(upload("nope", buffer.getvalue()), 422, "unknown-task")
    assert_problem(upload("two_neuron", buffer.getvalue()), 422, "invalid-task")


def test_openapi_documents_the_analysis_endpoints(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/solutions/{solution_id}/fixed-points",
        "/solutions/{solution_id}/limit-cycles",
        "/solutions/{solution_id}/extrapolation",
        "/solutions/{solution_id}/graph",
        "/solutions/{solution_id}/plots/trajectories.png",
        "/solutions/{solution_id}/plots/tp.png",
        "/solutions/{solution_id}/plots/decisions.png",
        "/solutions/{solution_id}/plots/graph.svg",
        "/types",
        "/types/{type_id}",
        "/types/{type_id}/graph.svg",
        "/compare",
        "/compare/matrix",
        "/classify",
        "/tasks/two_neuron/studies",
        "/tasks/two_neuron/regimes",
        "/tasks/two_neuron/regimes/maps/{name}.png",
    ):
        assert path in paths, path
    fixed = paths["/solutions/{solution_id}/fixed-points"]["get"]
    assert NPY_MEDIA_TYPE in fixed["responses"]["200"]["content"]
    assert (
        "image/png"
        in paths["/solutions/{solution_id}/plots/tp.png"]["get"]["responses"]["200"]["content"]
    )
    classify = paths["/classify"]["post"]
    assert classify["security"] and {"401", "409", "422"} <= set(classify["responses"])
    assert set(classify["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    schemas = spec["components"]["schemas"]
    for name in (
        "FixedPointsOut",
        "TypeTableOut",
        "ComparisonOut",
        "ClassificationOut",
        "RegimesOut",
    ):
        assert schemas[name]["examples"], name
