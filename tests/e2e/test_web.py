"""The explorer in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright)
on a live server (uvicorn, SQLite, in-process worker) holding real data: reference networks
imported and analysed through the API, and a tiny job trained by a test.

Every page loads with no console error, no failed request, no request to another host, and no
serious accessibility violation (axe-core, as bundled by `axe-playwright-python`) at a
desktop's width or a phone's; the main flows work (browse, open, compare; submit a job and
watch it finish; start a study and cancel one; import and see its type); the pages work
without JavaScript. Screenshots go to tests/artifacts/web/ for a person to see.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from conftest import ROOT, reference_dir

from api.app import create_app
from atlas.config import Settings
from atlas.store import FINISHED, make_engine, migrate, session_factory, session_scope
from atlas.store.charts import (
    ChartSpec,
    SettingSpec,
    attach_networks,
    chart_record,
    complete_chart,
    create_chart,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
API_KEY = "web-test-key"
ARTIFACTS = ROOT / "tests" / "artifacts" / "web"
IMPORTED = {
    "interval_vanilla_30_i100": "interval",
    "interval_vanilla_20_i100": "interval",
}
UPLOADED = ("reproduction_gru_30_i100", "reproduction")
TINY_JOB = {"task_parameters": '{"f_max": 5, "delay_max": 2}', "units": "8", "count": "2"}
WAIT_S = 180
#: axe-core rules whose failure fails a page (impacts "serious" and "critical" all count).
FAILING_IMPACTS = {"serious", "critical"}

sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def live_atlas(tmp_path_factory) -> Iterator[dict]:
    """The app served by uvicorn on a free port, two reference networks imported and
    analysed (interval networks: the fastest to analyse) and a tiny two-neuron study run;
    yields the base URL and the imported solutions' ids by name."""
    folder = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{folder / 'atlas.db'}"
    migrate(url)
    settings = Settings(
        database_url=url, api_key=API_KEY, data_dir=folder, torch_threads=1, device="cpu"
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as http:

        def up() -> bool:
            try:
                return http.get("/health").status_code == 200
            except httpx.TransportError:
                return False

        _wait(up, "the server")
        ids = {}
        for name, task in IMPORTED.items():
            with (reference_dir() / "networks" / name / "weights.pt").open("rb") as weights:
                response = http.post(
                    "/solutions/import",
                    files={"file": (f"{name}.pt", weights)},
                    data={"task": task, "name": name},
                    headers={"X-API-Key": API_KEY},
                )
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]

        study = http.post(
            "/tasks/two_neuron/studies",
            json={"count": 16, "training": {"max_steps": 30}},
            headers={"X-API-Key": API_KEY},
        )
        assert study.status_code == 202, study.text

        def analysed() -> bool:
            states = [http.get(f"/solutions/{i}").json()["analysis_status"] for i in ids.values()]
            assert "failed" not in states
            regimes = http.get("/tasks/two_neuron/regimes").json()
            return all(state == "done" for state in states) and bool(regimes["maps"])

        _wait(analysed, "the imported networks' analyses and a tiny two-neuron study")
        yield {"base": base, "ids": ids, "http": http, "database_url": url}
    server.should_exit = True
    thread.join(timeout=60)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: scripts/setup installs Debian's chromium as root")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A browser page whose console errors, failed requests, error responses and hosts are
    recorded; `check()` asserts there were none (and only the server's host was asked)."""

    def __init__(self, context, base: str):
        self.page = context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.hosts: set[str] = set()
        self.expected_status: set[int] = set()
        page = self.page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob"):
            self.hosts.add(url.netloc)

    def _console(self, message) -> None:
        if message.type == "error" and not self._expected(message.text):
            self.problems.append(f"console: {message.text}")

    def _expected(self, text: str) -> bool:
        return any(f"status of {status}" in text for status in self.expected_status)

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in self.expected_status:
            self.problems.append(f"{response.status}: {response.url}")

    def goto(self, path: str):
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return response

    def check(self) -> None:
        assert not self.problems, self.problems
        assert self.hosts <= {urlsplit(self.base).netloc}, self.hosts
        self.problems.clear()

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def watched(browser, live_atlas) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Watched(context, live_atlas["base"])
    context.close()


def _axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    script = Path(str(files("axe_playwright_python") / "axe.min.js")).read_text()
    page.evaluate(script)
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]


@pytest.fixture(scope="module")
def finished_job(live_atlas) -> int:
    """A tiny job posted to the API and trained to its end: its page has its networks."""
    http = live_atlas["http"]
    response = http.post(
        "/jobs",
        json={
            "task": "delayed",
            "architecture": "vanilla",
            "units": int(TINY_JOB["units"]),
            "count": int(TINY_JOB["count"]),
            "task_parameters": {"f_max": 5, "delay_max": 2},
            "training": {"max_epochs": 15},
        },
        headers={"X-API-Key": API_KEY},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def ended() -> bool:
        return http.get(f"/jobs/{job_id}").json()["status"] in FINISHED

    _wait(ended, "a tiny job")
    return job_id


@pytest.fixture(scope="module")
def pages(live_atlas, typed_chart, finished_job) -> dict[str, str]:
    """Every kind of explorer page (a GET route under /atlas), by name: the page's path."""
    ids = live_atlas["ids"]
    first, second = ids["interval_vanilla_30_i100"], ids["interval_vanilla_20_i100"]
    type_link = live_atlas["http"].get("/types", params={"task": "interval"}).json()["types"][0]
    return {
        "home": "/atlas",
        "browse": "/atlas/solutions?task=interval&sort=validation_loss",
        "solution": f"/atlas/solutions/{first}",
        "task": "/atlas/tasks/interval",
        "type": f"/atlas/types/{type_link['id']}",
        "types": "/atlas/types",
        "compare": f"/atlas/compare?ids={first},{second}",
        "work": "/atlas/work",
        "job": f"/atlas/work/jobs/{finished_job}",
        "charts": "/atlas/charts",
        "chart": f"/atlas/charts/{typed_chart['id']}",
        "import": "/atlas/import",
        "two_neuron": "/atlas/two-neuron",
    }


def test_every_page_loads_cleanly_from_this_host_and_passes_axe(watched, pages):
    failures = {}
    for name, path in pages.items():
        response = watched.goto(path)
        assert response.status == 200, (path, response.status)
        assert watched.page.locator("main h1").count() == 1, path
        watched.screenshot(name)
        if name == "two_neuron":
            assert watched.page.locator("figure.zoomable img").count() == 2
        violations = _axe_violations(watched.page)
        if violations:
            failures[path] = violations
        watched.check()
    assert not failures, failures
    for docs, ready in (("/docs", ".swagger-ui .info"), ("/redoc", ".api-info")):
        watched.goto(docs)
        watched.page.wait_for_selector(ready, timeout=30000)
        watched.page.screenshot(path=str(ARTIFACTS / f"{docs.strip('/')}.png"))
        watched.check()


def _overflow(page) -> int:
    """How far the page is wider than the window (0 when nothing sticks out sideways)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def _clipped_captions(page) -> list[str]:
    """The captions that stick out of their table's frame (cut off where the table scrolls)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-table-frame] caption')].filter(c =>
            c.getBoundingClientRect().right > c.closest('[data-table-frame]')
                .getBoundingClientRect().right + 1).map(c => c.textContent)"""
    )


def _check_table_frames(page) -> None:
    """Each table frame on the page is a tab stop exactly when its table scrolls sideways."""
    frames = page.locator("[data-table-frame]")
    assert frames.count() >= 1
    for index in range(frames.count()):
        scrolls, stop = frames.nth(index).evaluate(
            "frame => [frame.scrollWidth > frame.clientWidth, frame.tabIndex === 0]"
        )
        assert scrolls == stop, (index, scrolls, stop)


def test_pages_fit_a_phone_pass_axe_there_and_a_long_footer_link_wraps(browser, live_atlas, pages):
    """QA measured job, chart and solution pages 444-664 px wide on a 390 px phone, and the
    browse page with a cursor 1,651 px wide on a 1,280 px screen (its footer's JSON link).
    On a phone, wide tables scroll sideways in their frame, their captions wrapped to the
    frame (QA found the index of types' caption cut off), and axe found frames with no
    keyboard access (scrollable-region-focusable) on the solution and type pages: every page,
    and an error page, passes axe at 390 px too, and the arrow keys scroll a focused frame."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        watched = Watched(context, live_atlas["base"])
        wide, clipped, failures = {}, {}, {}
        for name, path in pages.items():
            watched.goto(path)
            if _overflow(watched.page) > 1:
                wide[name] = _overflow(watched.page)
            if captions := _clipped_captions(watched.page):
                clipped[name] = captions
            watched.screenshot(f"phone_{name}")
            if violations := _axe_violations(watched.page):
                failures[name] = violations
        watched.check()
        watched.goto(pages["solution"])
        _check_table_frames(watched.page)
        frame = watched.page.locator("[data-table-frame][tabindex='0']").first
        frame.focus()
        watched.page.keyboard.press("ArrowRight")
        # Chromium scrolls by key smoothly: wait for the frame to move (up to the default
        # timeout), rather than read it at once (0 on a busy machine).
        watched.page.wait_for_function("frame => frame.scrollLeft > 0", arg=frame.element_handle())
        watched.expected_status = {404}
        watched.goto("/atlas/solutions/999999")
        if violations := _axe_violations(watched.page):
            failures["not_found"] = violations
        watched.check()
        assert not wide, wide
        assert not clipped, clipped
        assert not failures, failures
    finally:
        context.close()
    first = live_atlas["http"].get("/solutions", params={"limit": 1}).json()
    cursor_page = f"/atlas/solutions?limit=1&cursor={first['next_cursor']}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context, live_atlas["base"])
        watched.goto(cursor_page)
        assert _overflow(watched.page) <= 1
        shown = watched.page.locator("#f-limit option[selected]").inner_text()
        assert shown == "1", "the page size in use is the one shown"
        watched.goto(pages["solution"])
        _check_table_frames(watched.page)
        watched.check()
    finally:
        context.close()


def _reference_file(name: str) -> dict[str, tuple[str, bytes]]:
    """A reference network's weights as an upload's `file` field."""
    return {
        "file": ("weights.pt", (reference_dir() / "networks" / name / "weights.pt").read_bytes())
    }


def test_compare_refusals_come_back_on_the_form(live_atlas):
    """A mixed-task pair, or one id, gave a bare error page (or nothing): the form comes back
    with the ids and the reason."""
    http, interval = live_atlas["http"], live_atlas["ids"]["interval_vanilla_30_i100"]
    delayed = http.post(
        "/solutions/import",
        data={"task": "delayed"},
        files=_reference_file("delayed_vanilla_20_i100"),
        headers={"X-API-Key": API_KEY},
    ).json()["id"]
    mixed = http.get("/atlas/compare", params={"ids": f"{interval},{delayed}"})
    assert mixed.status_code == 422
    assert f'value="{interval},{delayed}"' in mixed.text and 'class="problem"' in mixed.text
    single = http.get("/atlas/compare", params={"ids": str(interval)})
    assert single.status_code == 422 and "two or more different solution ids" in single.text


def test_importing_a_network_again_says_it_was_there(live_atlas):
    http, ids = live_atlas["http"], live_atlas["ids"]
    name = "interval_vanilla_30_i100"
    answer = http.post(
        "/atlas/import", data={"task": "interval", "api_key": API_KEY}, files=_reference_file(name)
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/atlas/solutions/{ids[name]}?already=true"
    page = http.get(answer.headers["location"])
    assert "in the atlas already" in page.text


def test_browse_sorts_and_pages_then_opens_a_solution_and_compares_two(watched, live_atlas):
    page = watched.page
    watched.goto("/atlas/solutions")
    page.select_option("#f-task", "interval")
    page.select_option("#f-limit", "20")
    page.click("form.filters button[type=submit] >> nth=0")
    page.wait_for_load_state("networkidle")
    ids = [int(t) for t in page.locator("tbody tr td:first-child a").all_inner_texts()]
    assert sorted(ids) == sorted(
        i for n, i in live_atlas["ids"].items() if n.startswith("interval")
    )
    page.click("th >> text=validation loss")
    page.wait_for_load_state("networkidle")
    assert "sort=validation_loss" in page.url
    http = live_atlas["http"]
    losses = {i: http.get(f"/solutions/{i}").json()["validation_loss"] for i in ids}
    shown = [int(t) for t in page.locator("tbody tr td:first-child a").all_inner_texts()]
    assert shown == sorted(ids, key=losses.get)
    watched.goto("/atlas/solutions?task=interval&limit=1&sort=validation_loss")
    first_page = page.locator("tbody tr td:first-child a").inner_text()
    page.click("a[rel=next]")
    page.wait_for_load_state("networkidle")
    assert page.locator("tbody tr td:first-child a").inner_text() != first_page
    page.click("tbody tr td:first-child a")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("Solution ")
    # the graph lights a node's edges on hover; the trajectory picture zooms
    node = page.locator("svg.graph .node").first
    node.hover()
    assert page.locator("svg.graph .edge.lit").count() >= 1
    assert "start" in page.locator("figure.graph-figure .graph-info").inner_text()
    page.click("figure.zoomable >> nth=0 >> button[aria-label='Zoom in']")
    assert "scale(1.5)" in page.locator("figure.zoomable img").first.get_attribute("style")
    page.click("#compare ~ form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/atlas/compare" in page.url
    assert page.locator("table caption").first.inner_text().startswith("Solution ")
    assert page.locator("th:has-text('Procrustes similarity')").count() == 1
    watched.screenshot("flow_compare")
    watched.check()


def test_submit_a_job_from_the_form_and_watch_it_finish(watched):
    page = watched.page
    watched.goto("/atlas/work")
    page.select_option("#j-task", "delayed")
    page.select_option("#j-arch", "vanilla")
    page.fill("#j-units", TINY_JOB["units"])
    page.fill("#j-count", TINY_JOB["count"])
    page.fill("#j-epochs", "15")
    page.fill("#j-params", TINY_JOB["task_parameters"])
    page.fill("#j-key", API_KEY)
    page.click("form[data-api-form=job] button[type=submit]")
    page.wait_for_url(re.compile(r".*/atlas/work/jobs/\d+$"))
    assert page.evaluate("sessionStorage.getItem('atlas-api-key')") == API_KEY
    page.wait_for_function(
        "document.getElementById('job').dataset.unfinished === 'false'", timeout=WAIT_S * 1000
    )
    finished = page.locator("[data-field=status]").inner_text().strip()
    assert finished in ("succeeded", "partially succeeded", "failed"), finished
    assert page.locator("[data-field=networks] tr").count() == 2
    assert "2 of 2 saved" in page.locator("[data-field=progress-text]").inner_text()
    assert page.locator("form[data-api-form=cancel]").is_hidden(), "a finished job has no cancel"
    watched.screenshot("flow_job_finished")
    # a long job, cancelled from its page with the key kept in this tab
    watched.goto("/atlas/work")
    page.fill("#j-units", TINY_JOB["units"])
    page.fill("#j-count", "1")
    page.fill("#j-epochs", "100000")
    page.fill("#j-params", TINY_JOB["task_parameters"])
    page.click("form[data-api-form=job] button[type=submit]")
    page.wait_for_url(re.compile(r".*/atlas/work/jobs/\d+$"))
    page.click("form[data-api-form=cancel] button[type=submit]")
    page.wait_for_function(
        "document.getElementById('job').dataset.unfinished === 'false'", timeout=WAIT_S * 1000
    )
    assert page.locator("[data-field=status]").inner_text().strip() == "cancelled"
    watched.goto("/atlas/work")
    fields, notes = page.locator("[data-key-field]"), page.locator("[data-key-known]")
    assert fields.count() == notes.count() == 2
    for index in range(2):
        assert fields.nth(index).is_hidden(), "the key is asked once per tab"
        assert notes.nth(index).is_visible()
    watched.check()


STUDY_PAGE = re.compile(r".*/atlas/two-neuron\?study=(\d+)(#study)?$")
STUDY_ENDED = "document.getElementById('study')?.dataset.unfinished === 'false'"


def test_start_a_study_from_the_form_and_watch_it_finish(watched, live_atlas):
    """The two-neuron page starts a study (the key kept in the tab) and follows it to its end;
    a long one's page fits a phone, passes axe and cancels with the kept key."""
    page = watched.page
    watched.goto("/atlas/two-neuron")
    page.fill("#s-count", "4")
    page.fill("#s-seed", "3")
    page.fill("#s-name", "from the form")
    page.fill("#s-steps", "30")
    page.fill("#s-key", API_KEY)
    page.click("form[data-api-form=study] button[type=submit]")
    page.wait_for_url(STUDY_PAGE)
    assert page.evaluate("sessionStorage.getItem('atlas-api-key')") == API_KEY
    study_id = int(STUDY_PAGE.match(page.url)[1])
    asked = live_atlas["http"].get(f"/studies/{study_id}").json()
    assert (asked["count"], asked["seed"], asked["name"]) == (4, 3, "from the form")
    assert asked["training"]["max_steps"] == 30
    page.wait_for_function(STUDY_ENDED, timeout=WAIT_S * 1000)
    finished = page.locator("[data-field=status]").inner_text().strip()
    assert finished in ("succeeded", "partially succeeded", "failed"), finished
    assert "4 of 4 trained" in page.locator("[data-field=progress-text]").inner_text()
    assert page.locator("form[data-api-form=cancel-study]").count() == 0
    watched.screenshot("flow_study_finished")
    # a long study, on a phone, cancelled from its page with the key kept in this tab
    page.set_viewport_size({"width": 390, "height": 844})
    watched.goto("/atlas/two-neuron")
    page.fill("#s-count", "50")
    page.fill("#s-steps", "100000")
    page.click("form[data-api-form=study] button[type=submit]")
    page.wait_for_url(STUDY_PAGE)
    assert page.locator("#study").get_attribute("data-unfinished") == "true"
    assert _overflow(page) <= 1
    assert not _axe_violations(page)
    watched.screenshot("flow_study_running_phone")
    page.click("form[data-api-form=cancel-study] button[type=submit]")
    page.wait_for_function(STUDY_ENDED, timeout=WAIT_S * 1000)
    assert page.locator("[data-field=status]").inner_text().strip() == "cancelled"
    watched.check()


def test_start_and_cancel_a_study_without_javascript(browser, live_atlas):
    """The study form and the cancel form post natively, each with its key field; a refusal
    comes back on the form, in words, with what was typed."""
    context = browser.new_context(java_script_enabled=False)
    try:
        watched = Watched(context, live_atlas["base"])
        watched.expected_status = {422}
        page = watched.page
        watched.goto("/atlas/two-neuron")
        page.fill("#s-count", "50")
        page.fill("#s-steps", "100000")
        page.fill("#s-params", "[1]")
        page.fill("#s-key", API_KEY)
        page.click("form[data-api-form=study] button[type=submit]")
        page.wait_for_url(re.compile(r".*/atlas/two-neuron/studies#new-study$"))
        said = page.locator("#study-problem").inner_text()
        assert "model parameters must be a JSON object" in said, said
        assert page.input_value("#s-steps") == "100000"
        page.fill("#s-params", "")
        page.fill("#s-key", API_KEY)
        page.click("form[data-api-form=study] button[type=submit]")
        page.wait_for_url(STUDY_PAGE)
        assert "still running" in page.locator("[data-field=live]").inner_text()
        page.fill("#cancel-key", API_KEY)
        page.click("form[data-api-form=cancel-study] button[type=submit]")
        page.wait_for_url(STUDY_PAGE)
        status = page.locator("[data-field=status]").inner_text().strip()
        assert status in ("cancelling", "cancelled"), status
        watched.check()
    finally:
        context.close()


def test_chart_a_task_from_the_form_and_see_its_settings_and_shares(watched):
    """A tiny chart (untrained networks accepted at any loss): the page follows it to its end
    and shows each setting's progress and the type-share section; it passes axe."""
    page = watched.page
    watched.goto("/atlas/work")
    page.select_option("#c-task", "delayed")
    page.fill("#c-settings", "vanilla 8")
    page.fill("#c-count", "2")
    page.fill("#c-budget", "2")
    page.fill("#c-chunk", "2")
    page.fill("#c-epochs", "10")
    page.fill("#c-loss", "1000")
    page.fill("#c-params", TINY_JOB["task_parameters"])
    page.fill("#c-key", API_KEY)
    page.click("form[data-api-form=chart] button[type=submit]")
    page.wait_for_url(re.compile(r".*/atlas/charts/\d+$"))
    page.wait_for_function(
        "document.getElementById('chart').dataset.unfinished === 'false'", timeout=WAIT_S * 1000
    )
    assert page.locator("[data-field=status]").inner_text().strip() == "succeeded"
    row = page.locator("#settings ~ .table-wrap tbody tr").first
    assert row.locator("th").inner_text() == "vanilla 8"
    assert "reached" in row.inner_text()
    assert page.locator("#shares").count() == 1
    watched.screenshot("flow_chart")
    assert not _axe_violations(page)
    watched.goto("/atlas/charts")
    assert page.locator("tbody tr").count() >= 1
    assert not _axe_violations(page)
    watched.check()


@pytest.fixture(scope="module")
def typed_chart(live_atlas) -> dict:
    """A finished chart of the two analysed interval references, one per setting (vanilla 30,
    vanilla 20), attached as finished chunks as a chart's dataset is: its networks are typed.
    Yields its id and, per setting, the solution types its networks have in the store."""
    names = ("interval_vanilla_30_i100", "interval_vanilla_20_i100")
    ids = [live_atlas["ids"][name] for name in names]
    engine = make_engine(live_atlas["database_url"])
    try:
        with session_scope(session_factory(engine)) as session:
            spec = ChartSpec(
                "interval", (SettingSpec("vanilla", 30), SettingSpec("vanilla", 20)), 1
            )
            chart, created = create_chart(session, spec, idempotency_key="web-typed-chart")
            assert created
            for position, network_id in enumerate(ids):
                attach_networks(session, chart.id, position, [network_id])
            assert complete_chart(session, chart.id) == "succeeded"
            chart_id = chart.id
            progress = {
                f"{s.architecture} {s.units}": [
                    f"{s.seeds_used} of {s.seed_budget}",
                    *(str(n) for n in (s.trained, s.accepted, s.failed, s.analysed, s.typed)),
                ]
                for s in chart_record(session, chart_id).settings
            }
    finally:
        engine.dispose()
    http = live_atlas["http"]
    types = {}
    for network_id in ids:
        solution = http.get(f"/solutions/{network_id}").json()
        assert solution["solution_type"], solution
        types[f"vanilla {solution['units']}"] = solution["solution_type"]
    listed = http.get("/types", params={"task": "interval"}).json()["types"]
    type_ids = {t["name"]: t["id"] for t in listed}
    assert list(progress) == list(types)
    return {"id": chart_id, "types": types, "type_ids": type_ids, "progress": progress}


def test_a_typed_chart_shows_its_settings_types_and_shares(watched, typed_chart):
    """A finished chart whose networks are typed: the shares figure loads, each setting shows
    its counts, each type found is listed with its count per setting and a link to its page,
    which opens; axe finds nothing. Expected values are the store's, not the page's."""
    page = watched.page
    chart_id, types = typed_chart["id"], typed_chart["types"]
    response = watched.goto(f"/atlas/charts/{chart_id}")
    assert response.status == 200
    assert page.locator("main h1").inner_text() == f"Chart {chart_id}: interval"
    assert page.locator("[data-field=status]").inner_text().strip() == "succeeded"
    assert page.locator("#chart").get_attribute("data-unfinished") == "false"
    progress = page.locator("[data-field=progress-text]").inner_text()
    assert progress == "2 accepted, 2 trained, 0 failed, 2 analysed"

    rows = page.locator("#settings + .table-wrap tbody tr")
    assert rows.count() == len(types)
    for index, setting in enumerate(types):
        row = rows.nth(index)
        assert row.locator("th").inner_text() == setting
        cells = row.locator("td").all_inner_texts()
        # state, seeds used, trained, accepted, failed, analysed, typed, networks
        assert cells[0].startswith("reached"), cells
        assert cells[1:7] == typed_chart["progress"][setting], (setting, cells)
        assert cells[2:7] == ["1", "1", "0", "1", "1"], (setting, cells)
        units = setting.split()[1]
        href = row.locator("a").get_attribute("href")
        assert href == (
            f"/atlas/solutions?task=interval&chart={chart_id}&architecture=vanilla&units={units}"
        )

    figure = page.locator("#shares ~ figure img")
    assert figure.count() == 1
    assert figure.get_attribute("src") == f"/charts/{chart_id}/shares.svg"
    assert figure.evaluate("img => img.complete && img.naturalWidth > 0"), "figure not loaded"
    assert figure.get_attribute("alt")

    table = page.locator("table.shares")
    headers = table.locator("thead th").all_inner_texts()
    assert headers == ["type", *types]
    counts: dict[str, dict[str, int]] = {}
    for setting, name in types.items():
        counts.setdefault(name, {}).setdefault(setting, 0)
        counts[name][setting] += 1
    body = table.locator("tbody tr")
    assert body.count() == len(counts)
    for index in range(body.count()):
        row = body.nth(index)
        name = row.locator("th").inner_text()
        assert name in counts, (name, counts)
        link = row.locator("th a").get_attribute("href")
        assert link == f"/atlas/types/{typed_chart['type_ids'][name]}"
        for setting, cell in zip(types, row.locator("td").all_inner_texts(), strict=True):
            count = counts[name].get(setting)
            shown = cell.strip().removesuffix(" rare")
            assert shown == (f"100.0% ({count})" if count else "—"), (name, setting, cell)
    typed = table.locator("tfoot td").all_inner_texts()
    assert typed == ["1"] * len(types)
    assert not page.locator("text=No typed networks yet").count()
    watched.screenshot("chart_typed")
    assert not _axe_violations(page)
    watched.check()

    for name in counts:
        watched.goto(f"/atlas/charts/{chart_id}")
        page.click(f"table.shares tbody th a >> text='{name}'")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(f"/atlas/types/{typed_chart['type_ids'][name]}")
        assert page.locator("main h1").inner_text() == f"Solution type {name}"
        watched.check()


def test_import_a_network_and_see_its_type(watched, tmp_path):
    name, task = UPLOADED
    weights = tmp_path / f"{name}.pt"
    shutil.copy(reference_dir() / "networks" / name / "weights.pt", weights)
    page = watched.page
    watched.goto("/atlas/import")
    page.set_input_files("#i-file", str(weights))
    page.select_option("#i-task", task)
    page.fill("#i-name", name)
    page.fill("#i-key", API_KEY)
    page.click("form[data-api-form=import] button[type=submit]")
    page.wait_for_url(re.compile(r".*/atlas/solutions/\d+$"))
    page.wait_for_function(
        "document.querySelector('#solution-type').textContent.trim() !== 'none yet'",
        timeout=WAIT_S * 1000,
    )
    assert page.locator("#solution-type a").count() == 1
    assert page.locator("svg.graph").count() == 1
    watched.screenshot("flow_import_typed")
    watched.check()


def test_pages_work_without_javascript(browser, live_atlas):
    context = browser.new_context(java_script_enabled=False)
    try:
        watched = Watched(context, live_atlas["base"])
        watched.expected_status = {403}
        page = watched.page
        watched.goto("/atlas/solutions?task=interval&sort=units&order=desc")
        units = [int(u) for u in page.locator("tbody tr td:nth-child(4)").all_inner_texts()]
        assert len(units) >= 2 and units == sorted(units, reverse=True)
        watched.goto("/atlas/work")
        page.fill("#j-units", "8")
        page.fill("#j-key", "not-the-key")
        page.click("form[data-api-form=job] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "API key is not valid" in page.locator("#form-problem").inner_text()
        watched.expected_status = {403, 404}
        watched.goto("/atlas/solutions/999999")
        assert "no solution with id 999999" in page.locator("main").inner_text()
        watched.check()
    finally:
        context.close()


def test_from_home_to_the_type_index_and_a_type_on_a_phone_without_javascript(browser, live_atlas):
    """Home links to the index of every solution type; its filters are a plain GET form; its
    rows are the API's types with their member counts, largest first; a type's link opens the
    type's page. On a 390 px phone with JavaScript off, nothing wider than the screen."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    try:
        watched = Watched(context, live_atlas["base"])
        page = watched.page
        watched.goto("/atlas")
        page.click("main >> text=All solution types")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith("/atlas/types")
        assert page.locator("main h1").inner_text() == "Solution types"
        assert _overflow(page) <= 1
        page.select_option("#f-task", "interval")
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "task=interval" in page.url
        assert _overflow(page) <= 1
        assert not _clipped_captions(page)
        frames = page.locator("[data-table-frame]")  # without JavaScript, each is a tab stop
        assert frames.count() == page.locator("[data-table-frame][tabindex='0']").count() == 1
        types = live_atlas["http"].get("/types", params={"task": "interval"}).json()["types"]
        rows = page.locator("table.types tbody tr")
        cells = [rows.nth(i).locator("th, td").all_inner_texts() for i in range(rows.count())]
        shown = {name: int(members) for name, _, _, members, *_ in cells}
        assert shown == {t["name"]: t["members"] for t in types}
        assert list(shown.values()) == sorted(shown.values(), reverse=True)
        first = types[0]
        page.click(f"table.types tbody th a >> text='{first['name']}'")
        page.wait_for_load_state("networkidle")
        assert page.url.endswith(f"/atlas/types/{first['id']}")
        assert page.locator("main h1").inner_text() == f"Solution type {first['name']}"
        watched.check()
    finally:
        context.close()


def _own_urls(text: str) -> set[str]:
    return set(re.findall(r"""(?:src|href|action)=["']([^"']+)["']""", text))


EXTERNAL = re.compile(r"(?:https?:)?//(?!127\.0\.0\.1|localhost|www\.w3\.org/)[\w.-]+\.[a-z]{2,}")


def test_no_page_or_asset_refers_to_an_external_host(live_atlas, pages):
    http = live_atlas["http"]
    seen, assets = set(), set()
    for path in [*pages.values(), "/docs", "/redoc"]:
        body = http.get(path).text
        assert not EXTERNAL.findall(body), (path, EXTERNAL.findall(body))
        for url in _own_urls(body):
            if url.startswith("/static/"):
                assets.add(url.split("?")[0])
        seen.add(path)
    assert {"/static/atlas.css", "/static/atlas.js"} <= assets
    assert {"/static/docs/swagger-ui-bundle.js", "/static/redoc/redoc.standalone.js"} <= assets
    for asset in assets:
        response = http.get(asset)
        assert response.status_code == 200, asset
        if "/docs/" not in asset and "/redoc/" not in asset:  # ours; vendor bundles load
            assert not EXTERNAL.findall(response.text), (asset, EXTERNAL.findall(response.text))
