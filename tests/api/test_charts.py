"""Charts without training: the result's science on the paper's own labels, the figure, and the
API over a chart of the paper's reference networks (imported, attached, typed by their graphs),
plus requests that must be refused and a chart cancelled through the API."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pytest
from migrated_app import migrated_app_client
from sqlalchemy import select

from atlas.analysis.chart_plot import figure_bytes, shares_figure
from atlas.analysis.chart_summary import breakdown, predictor_kappa, rare_types
from atlas.networks import from_state_dicts
from atlas.store import (
    assign_solution_type,
    fail_submitted_chart,
    make_engine,
    save_imported_network,
    session_factory,
    session_scope,
    submit_chart,
)
from atlas.store.charts import (
    ChartSpec,
    SettingSpec,
    attach_networks,
    chart_networks,
    chart_result,
    complete_chart,
    create_chart,
)
from atlas.store.models import ChartChunk, Job
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse

pytestmark = pytest.mark.usefixtures("one_torch_thread")

API_KEY = "charts-key-7777"
HEADERS = {"X-API-Key": API_KEY}
SIZES = (20, 30, 40, 50)  # the paper's rows: 4 sizes x 100 networks


def paper_labels(paper_features_dir, setting: str) -> tuple[np.ndarray, list[list[str]]]:
    """The paper's features and its labels per size as type names; its label 0 lumps the types
    under 10 of 400 networks, so each of those networks gets a type of its own here."""
    data = np.load(paper_features_dir / f"{setting}.npz", allow_pickle=False)
    names = [f"t{label}" if label else f"rare{row}" for row, label in enumerate(data["labels"])]
    return data["features"], [names[100 * i : 100 * (i + 1)] for i in range(len(SIZES))]


def test_summary_reads_the_paper_labels_as_the_paper_does(paper_features_dir):
    """delayed vanilla 20 (issue 10): 7 types of 4+ members, the largest 16%, 34% in rare
    types; the rare types are exactly the paper's label 0, decided over all 400 networks."""
    _, per_size = paper_labels(paper_features_dir, "delayed_vanilla")
    rare = rare_types(per_size)
    assert rare == {name for group in per_size for name in group if name.startswith("rare")}
    vanilla_20 = breakdown(per_size[0], rare)
    common = [t for t in vanilla_20.types if not t.rare]
    assert sum(t.count >= 4 for t in common) == 7
    assert vanilla_20.types[0].share == common[0].share == pytest.approx(0.16)
    assert vanilla_20.rare_share == pytest.approx(0.34)
    assert vanilla_20.coverage == pytest.approx(0.66)
    assert vanilla_20.top_coverage[:2] == pytest.approx([0.16, 0.29])
    assert vanilla_20.major_types == 2  # 16% and 13%
    pooled = breakdown([n for group in per_size for n in group], rare)
    assert pooled.typed == 400 and pooled.rare_share == pytest.approx(122 / 400)

    _, reproduction = paper_labels(paper_features_dir, "reproduction_vanilla")
    vanilla_30 = breakdown(reproduction[1], rare_types(reproduction))
    assert vanilla_30.types[0].share == pytest.approx(0.75)  # "one type holds 75%"


def test_kappa_by_the_papers_protocol_on_its_features(paper_features_dir):
    """The chart's predictor score on the paper's delayed matrix gives its kappa (0.44): rare
    types left out by name, as the paper's label 0 is."""
    features, per_size = paper_labels(paper_features_dir, "delayed_vanilla")
    labels = [n for group in per_size for n in group]
    outcome = predictor_kappa(features, labels, rare_types(per_size), splits=10)
    assert outcome.reason is None and outcome.types == 8 and outcome.networks == 278
    assert len(outcome.kappa.per_split) == 10  # 50 in the charts; 10 keep the test short
    assert abs(outcome.kappa.mean - 0.44) <= 0.05
    few = predictor_kappa(features[:3], labels[:3], set())
    assert few.kappa is None and "two or more common types" in few.reason


def test_shares_figure_stacks_each_setting_to_one(paper_features_dir):
    _, per_size = paper_labels(paper_features_dir, "delayed_vanilla")
    rare = rare_types(per_size)
    breakdowns = [breakdown(group, rare) for group in per_size]
    figure = shares_figure([f"vanilla {u}" for u in SIZES], breakdowns, "delayed")
    heights = Counter()
    for patch in figure.axes[0].patches:
        heights[round(patch.get_x() + patch.get_width() / 2)] += patch.get_height()
    assert sorted(heights) == [0, 1, 2, 3]
    assert all(h == pytest.approx(1.0) for h in heights.values())
    assert figure_bytes(figure, "png").startswith(b"\x89PNG")
    svg = figure_bytes(figure, "svg").decode()
    assert "<svg" in svg and "t1" in svg and "rare types" in svg
    with pytest.raises(ValueError, match="format"):
        figure_bytes(figure, "gif")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with migrated_app_client("sqlite", tmp_path_factory.mktemp("charts"), API_KEY) as client:
        yield client


def reference_chart(client, references) -> int:
    """The paper's 12 reproduction reference networks as a chart of 12 settings, one network
    each: imported, attached as finished chunks, typed by the paper's own compact graphs."""
    settings = tuple(SettingSpec(r.architecture, r.units) for r in references)
    task = get_task("reproduction")
    engine = make_engine(client.app.state.settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            chart, _ = create_chart(
                session, ChartSpec(task="reproduction", settings=settings, networks_per_setting=1)
            )
            for position, reference in enumerate(references):
                population = from_state_dicts([reference.state_dict])
                loss = float(population_mse(population, task.validation_set())[0])
                network = save_imported_network(session, task, reference.state_dict, loss)
                attach_networks(session, chart.id, position, [network.id])
                assign_solution_type(session, network.id, reference.graph)
            assert complete_chart(session, chart.id) == "succeeded"
            with pytest.raises(ValueError, match="not gru 20 networks"):
                attach_networks(session, chart.id, 0, [network.id])
            return chart.id
    finally:
        engine.dispose()


def test_chart_of_reference_networks_through_the_api(client, reference_networks):
    references = [r for r in reference_networks if r.task == "reproduction"]
    chart_id = reference_chart(client, references)
    chart = client.get(f"/charts/{chart_id}").json()
    assert chart["status"] == "succeeded" and len(chart["settings"]) == 12
    assert chart["progress"] == {
        "fraction": 1.0, "trained": 12, "accepted": 12, "failed": 0, "analysed": 0
    }  # fmt: skip
    overall = chart["overall"]
    assert overall["typed"] == 12 and sum(t["count"] for t in overall["types"]) == 12
    assert all(s["state"] == "reached" and s["types"]["typed"] == 1 for s in chart["settings"])
    assert all(s["types"]["types"][0]["share"] == 1.0 for s in chart["settings"])
    names = {t["name"] for t in overall["types"]}
    assert {s["types"]["types"][0]["name"] for s in chart["settings"]} == names

    engine = make_engine(client.app.state.settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            listed = chart_networks(session, chart_id)
            result = chart_result(session, chart_id, rare_threshold=0.1)
            # The same network again outside the chart, of the same type: its links must not
            # list it.
            first = references[0]
            outside = save_imported_network(session, get_task("reproduction"), first.state_dict, 0)
            assign_solution_type(session, outside.id, first.graph)
    finally:
        engine.dispose()
    shown = [*overall["types"], *(t for s in chart["settings"] for t in s["types"]["types"])]
    for listed_type in shown:
        members = client.get(listed_type["link"]).json()["items"]
        assert len(members) == listed_type["count"], listed_type
    for setting in chart["settings"]:
        assert len(client.get(setting["links"]["solutions"]).json()["items"]) == 1
    assert len(client.get(chart["links"]["solutions"]).json()["items"]) == 12
    assert [n.position for n in listed] == list(range(12))
    singles = {t.name for t in result.overall.types if t.count == 1}
    assert set(result.rare_types) == singles  # 1 of 12 is below 10%
    assert result.overall_kappa.kappa is None  # no features stored: a reason, not a number
    with_kappa = client.get(f"/charts/{chart_id}", params={"kappa": "true"}).json()
    assert "features" in with_kappa["overall"]["kappa"]["reason"]

    png = client.get(f"/charts/{chart_id}/shares.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    svg = client.get(f"/charts/{chart_id}/shares.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert all(name in svg.text for name in names)
    assert chart_id in [c["id"] for c in client.get("/charts").json()["items"]]
    done = client.get("/charts", params={"status": "succeeded"}).json()["items"]
    assert chart_id in [c["id"] for c in done]
    assert not client.get("/charts", params={"status": "running"}).json()["items"]
    assert client.get("/charts", params={"status": "asleep"}).status_code == 422
    finished = client.post(f"/charts/{chart_id}/cancel", headers=HEADERS)
    assert finished.status_code == 409
    assert finished.headers["content-type"] == "application/problem+json"


SMALL = {
    "task": "delayed",
    "task_parameters": {"f_max": 5, "delay_max": 2},
    "settings": [{"architecture": "vanilla", "units": 4}],
    "networks_per_setting": 2,
    "chunk_size": 1,
    "training": {"max_epochs": 400, "checkpoint_every": 0},
}


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"settings": SMALL["settings"] * 2}, "each setting"),
        ({"seed_budget": 1}, "seed_budget 1 is below"),
        ({"task": "no-such-task"}, "no-such-task"),
        ({"acceptance": {"max_validation_loss": 0}}, "max_validation_loss"),
        ({"settings": []}, "settings"),
        ({"networks_per_setting": True}, "networks_per_setting"),
    ],
)
def test_bad_chart_requests_are_refused(client, change, detail):
    response = client.post("/charts", json={**SMALL, **change}, headers=HEADERS)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]


def test_chart_submitted_replayed_and_cancelled(client):
    assert client.post("/charts", json=SMALL).status_code == 401
    assert client.get("/charts/424242").status_code == 404
    assert client.post("/charts/424242/cancel", headers=HEADERS).status_code == 404
    keyed = {**HEADERS, "Idempotency-Key": "chart-one"}
    first = client.post("/charts", json=SMALL, headers=keyed)
    assert first.status_code == 202, first.text
    chart = first.json()
    assert first.headers["Location"] == f"/charts/{chart['id']}"
    assert chart["status"] == "running" and chart["settings"][0]["pending"] == 2
    assert chart["settings"][0]["chunks"] == 2 and chart["settings"][0]["seed_budget"] == 6
    again = client.post("/charts", json=SMALL, headers=keyed)
    assert again.json()["id"] == chart["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/charts", json={**SMALL, "seed": 5}, headers=keyed)
    assert other.status_code == 422 and "different request" in other.json()["detail"]

    cancelled = client.post(f"/charts/{chart['id']}/cancel", headers=HEADERS)
    assert cancelled.status_code == 202 and cancelled.json()["status"] in (
        "cancelling",
        "cancelled",
    )
    deadline = time.monotonic() + 120
    while client.get(f"/charts/{chart['id']}").json()["status"] != "cancelled":
        assert time.monotonic() < deadline, "the chart never ended cancelled"
        time.sleep(0.5)
    engine = make_engine(client.app.state.settings.database_url)
    try:
        with session_scope(session_factory(engine)) as session:
            statuses = session.scalars(
                select(Job.status)
                .join(ChartChunk, ChartChunk.job_id == Job.id)
                .where(ChartChunk.chart_id == chart["id"])
            ).all()
    finally:
        engine.dispose()
    assert len(statuses) == 2 and set(statuses) <= {"cancelled", "succeeded", "failed"}
    final = client.get(f"/charts/{chart['id']}").json()
    assert final["settings"][0]["state"] in ("cancelled", "reached")
    assert final["settings"][0]["chunks"] == 2  # nothing spawned after the cancel
    # The share done counts what was accepted: a cancelled setting is not done (it read 1.0).
    setting = final["settings"][0]
    done = (
        1.0
        if setting["state"] == "reached"
        else setting["accepted"] / SMALL["networks_per_setting"]
    )
    assert final["progress"]["fraction"] == pytest.approx(done)


def test_a_chart_that_could_not_be_queued_used_no_seeds(client):
    """Its chunks never ran: the seeds they were handed are not counted as used (they read 2 of
    6), while the chart keeps its chunks and their reason."""
    engine = make_engine(client.app.state.settings.database_url)
    try:
        sessions = session_factory(engine)
        spec = ChartSpec(
            task="delayed",
            task_parameters=SMALL["task_parameters"],
            settings=(SettingSpec("vanilla", 4),),
            networks_per_setting=2,
            chunk_size=1,
        )
        chart_id = submit_chart(sessions, spec).record.id
        fail_submitted_chart(sessions, chart_id, "the queue is unreachable")
    finally:
        engine.dispose()
    chart = client.get(f"/charts/{chart_id}").json()
    assert chart["status"] == "failed" and "unreachable" in chart["error"]
    (setting,) = chart["settings"]
    assert (setting["seeds_used"], setting["chunks"], setting["trained"]) == (0, 2, 0)
