"""The explorer's index of solution types (/atlas/types) on an atlas of real types (the shipped
charts and the paper's reference networks, tests/typed_atlas.py): every type listed once,
largest first, with the counts the store gives; filters that filter; pages by cursor; links
from the navigation, home and task pages; bad parameters answered in words on the form."""

from __future__ import annotations

import html
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from migrated_app import migrated_app_client
from typed_atlas import SHORTENED_DELAYED, fill_with_types

from atlas.store import make_engine, session_factory, session_scope, type_table, type_variants
from atlas.tasks import get_task, variant_key

API_KEY = "type-index-key-0123456789"
TASKS = ("delayed", "interval", "reproduction")
SHORTENED = variant_key(get_task("delayed", **SHORTENED_DELAYED))


class Rows(HTMLParser):
    """The body rows of the page's table of types: each row's cell texts and links."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[dict] = []
        self._cell: list[str] | None = None
        self._in_body = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({"cells": [], "links": []})
        elif self._in_body and tag in ("th", "td"):
            self._cell = []
        elif self._cell is not None and tag == "a":
            self.rows[-1]["links"].append(dict(attrs)["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif self._cell is not None and tag in ("th", "td"):
            self.rows[-1]["cells"].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def next_link(text: str) -> str | None:
    """The pager's next-page link (unescaped), None on the last page."""
    marker = '" rel="next"'
    if marker not in text:
        return None
    return html.unescape(text.split(marker, 1)[0].rsplit('href="', 1)[1])


def problem_text(text: str) -> str:
    return html.unescape(text.split('<p class="problem"', 1)[1].split(">", 1)[1].split("</p>")[0])


@pytest.fixture(scope="module")
def client(tmp_path_factory, reference_networks) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("type-index")
    with migrated_app_client("sqlite", folder, API_KEY) as client:
        engine = make_engine(str(client.app.state.settings.database_url))
        try:
            fill_with_types(session_factory(engine), reference_networks)
        finally:
            engine.dispose()
        yield client


@pytest.fixture(scope="module")
def expected(client) -> dict[str, dict]:
    """Every type of the atlas by name, as the store's type tables give it."""
    engine = make_engine(str(client.app.state.settings.database_url))
    try:
        with session_scope(session_factory(engine)) as session:
            return {
                summary.name: {"task": task, "variant": v.variant, "summary": summary}
                for task in TASKS
                for v in type_variants(session, task)
                for summary in type_table(session, task, v.variant).types
            }
    finally:
        engine.dispose()


def walk(client: TestClient, path: str) -> list[dict]:
    """Every row of the index from `path` on, following the next-page links to the end."""
    rows: list[dict] = []
    while path:
        page = client.get(path)
        assert page.status_code == 200, page.text
        assert ("first page" in page.text) == ("cursor=" in path)
        rows += Rows(page.text).rows
        path = next_link(page.text)
    assert "last page" in page.text
    return rows


def names(rows: list[dict]) -> list[str]:
    return [row["cells"][0] for row in rows]


def test_the_index_lists_every_type_largest_first_with_the_stores_counts(client, expected):
    """Pages of 20: each type once (the shipped charts alone give 53 `delayed` types), members
    non-increasing, and each row's task, variant, members, share, settings and graph size
    those of the store."""
    rows = walk(client, "/atlas/types?limit=20")
    assert sorted(names(rows)) == sorted(expected)
    assert len(rows) > 60
    members = [int(row["cells"][3]) for row in rows]
    assert members == sorted(members, reverse=True) and members[0] >= 21
    for row in rows:
        name, task, variant, count, share, settings, graph = row["cells"]
        kind = expected[name]
        summary = kind["summary"]
        assert (task, variant, int(count)) == (kind["task"], kind["variant"], summary.member_count)
        assert share == f"{100 * summary.share:.1f}%"
        assert settings == ", ".join(
            f"{architecture} {units}: {n}"
            for architecture, per_units in summary.by_architecture_units.items()
            for units, n in per_units.items()
        )
        nodes, edges = len(summary.graph["nodes"]), len(summary.graph["edges"])
        assert graph == f"{nodes} nodes, {edges} edges"
        assert row["links"][0] == f"/atlas/types/{summary.id}"
        assert row["links"][1] == f"/atlas/tasks/{task}?variant={variant}"


def test_the_index_orders_a_tasks_types_as_the_api_does(client):
    """Types of equal size come by name on the page, as in `/types?task=...`, across pages."""
    table = client.get("/types?task=delayed").json()["types"]
    assert len({t["members"] for t in table}) < len(table), "the atlas has ties to order"
    rows = walk(client, "/atlas/types?task=delayed&variant=default&limit=7")
    assert names(rows) == [t["name"] for t in table]


@pytest.mark.parametrize(
    ("query", "keeps"),
    [
        ("task=reproduction", lambda k: k["task"] == "reproduction"),
        ("task=rsg", lambda k: k["task"] == "reproduction"),  # an alias
        ("task=delayed&variant=default", lambda k: k["task"] == "delayed"
         and k["variant"] != SHORTENED),
        (f"task=delayed&variant={SHORTENED}", lambda k: k["variant"] == SHORTENED),
        ("variant=default", lambda k: k["variant"] == "default"),
        ("architecture=lstm", lambda k: "lstm" in k["summary"].by_architecture),
        ("task=reproduction&architecture=gru", lambda k: k["task"] == "reproduction"
         and "gru" in k["summary"].by_architecture),
    ],
)  # fmt: skip
def test_the_filters_keep_the_types_they_name(client, expected, query, keeps):
    wanted = {name for name, kind in expected.items() if keeps(kind)}
    assert 0 < len(wanted) < len(expected)
    page = client.get(f"/atlas/types?{query}")
    assert page.status_code == 200
    rows = walk(client, f"/atlas/types?{query}&limit=20")
    assert sorted(names(rows)) == sorted(wanted)
    for field, value in (pair.split("=") for pair in query.split("&")):
        shown = {"rsg": "reproduction"}.get(value, value)  # the alias' task is shown
        assert f"<option selected>{shown}</option>" in page.text, (field, value)


@pytest.mark.parametrize(
    ("query", "status", "said"),
    [
        ("task=nope", 422, "unknown task 'nope'"),
        ("limit=abc", 422, "limit must be a whole number, not 'abc'"),
        ("limit=0", 422, "limit must be from 1 to 500, not 0"),
        ("limit=1e3", 422, "limit must be a whole number, not '1e3'"),
        ("architecture=rnn", 422, "architecture must be one of vanilla, gru, lstm"),
        ("variant=p0000", 422, "variant 'p0000' is one task's parameter set: choose a task"),
        ("task=interval&variant=p0000", 404, "task 'interval' has no types under variant 'p0000'"),
        ("cursor=abc.def", 400, "the cursor's signature does not match"),
        ("cursor=abc", 400, "the cursor is not one this API issued"),
    ],
)
def test_bad_parameters_come_back_in_words_on_the_form(client, query, status, said):
    page = client.get(f"/atlas/types?{query}")
    assert page.status_code == status
    assert said in problem_text(page.text)
    assert 'action="/atlas/types"' in page.text, "the form comes back"
    assert "<table" not in page.text and "pydantic" not in page.text and "int()" not in page.text


def test_a_cursor_is_for_the_filters_it_was_given_with(client):
    first = client.get("/atlas/types?task=delayed&limit=2")
    cursor = next_link(first.text).split("cursor=", 1)[1]
    other = client.get(f"/atlas/types?task=reproduction&limit=2&cursor={cursor}")
    assert other.status_code == 400
    said = problem_text(other.text)
    assert said == (
        "the cursor belongs to a different query: keep the same filters when following the "
        '"next page" link'
    ), "in the page's words: it has no sort, order or `next_cursor`"


def test_an_empty_index_says_whether_the_filters_or_the_atlas_are_empty(client, tmp_path):
    """Filters that exclude every type say so (and how to clear them); an atlas without types
    says they come once networks are analysed."""
    page = client.get("/atlas/types?task=interval&architecture=gru")
    assert page.status_code == 200
    assert Rows(page.text).rows == [
        {
            "cells": ["No solution types match these filters: clear them to see every type."],
            "links": ["/atlas/types"],
        }
    ]
    with migrated_app_client("sqlite", tmp_path, API_KEY) as empty:
        page = empty.get("/atlas/types")
    assert [row["cells"] for row in Rows(page.text).rows] == [
        ["No solution types yet: they appear once trained or imported networks are analysed."]
    ]


def test_the_navigation_home_and_task_pages_link_to_the_index(client, expected):
    index = client.get("/atlas/types")
    assert '<a href="/atlas/types" aria-current="page">Types</a>' in index.text
    home = client.get("/atlas")
    assert 'href="/atlas/types"' in home.text
    delayed = sum(kind["task"] == "delayed" for kind in expected.values())
    assert f'<a href="/atlas/types?task=delayed">{delayed}</a>' in home.text
    task = client.get("/atlas/tasks/delayed")
    default = sum(
        kind["variant"] == "default" for kind in expected.values() if kind["task"] == "delayed"
    )
    assert f'<a href="/atlas/types?task=delayed&amp;variant=default">{default}</a>' in task.text
    assert 'href="/atlas/types"' in client.get("/atlas/solutions").text
