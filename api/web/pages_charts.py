"""Pages of charts: the list, one chart (progress per setting, type shares per setting, the
shares figure, cancel), and a chart submitted from a form.

A chart page reads what `GET /charts/{id}` returns (api.routes.charts.chart_out over the
store's chart_result), so the page and the JSON agree; atlas.js polls the JSON while the chart
runs and reloads the page when it has finished.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import MAX_ID, SessionDep, SessionsDep, SettingsDep
from api.problems import Problem
from api.routes.charts import ChartId, cancel_chart, chart_out, read_charts, submit_chart
from api.schemas.charts import ChartIn
from api.web.forms import (
    TASK_PARAMETERS_EXAMPLE,
    check_key,
    form_json_object,
    form_model,
    form_number,
    key_refused,
    submitted,
    work_page,
)
from api.web.page_route import page_router
from api.web.templating import render
from atlas.store import UNFINISHED, chart_result, solution_type_by_name

router = page_router()
Field = Annotated[str, Form(max_length=4096)]


@router.get("/atlas/charts", response_class=HTMLResponse)
def charts_page(
    request: Request,
    session: SessionDep,
    after: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    page = read_charts(session=session, after=after, limit=50)
    return render(request, "charts.html", title="Charts", page=page)


@router.get("/atlas/charts/{chart_id}", response_class=HTMLResponse)
def chart_page(request: Request, session: SessionDep, chart_id: ChartId) -> HTMLResponse:
    result = chart_result(session, chart_id, kappa=False)
    chart = chart_out(result.record, result)
    found = [t for s in chart.settings if s.types for t in s.types.types]
    type_links = {}
    for t in found:  # each type's page; its API link lists the chart's members of it
        kind = solution_type_by_name(session, chart.task, t.name)
        type_links[t.name] = f"/atlas/types/{kind.id}" if kind else f"/atlas{t.link}"
    shares = {
        (s.architecture, s.units): {t.name: t for t in s.types.types} if s.types else {}
        for s in chart.settings
    }
    return render(
        request,
        "chart.html",
        title=f"Chart {chart.id}",
        chart=chart,
        type_links=type_links,
        shares=shares,
        unfinished=chart.status in UNFINISHED,
    )


def _settings(text: str) -> list[dict[str, Any]]:
    """`vanilla 20, gru 30` (or `vanilla:20`) as the API's settings list."""
    settings = []
    for part in text.replace(";", ",").split(","):
        words = part.replace(":", " ").split()
        if not words:
            continue
        if len(words) != 2 or not words[1].isdigit():
            detail = (
                f"a setting is an architecture and a size, like vanilla 20, not {part.strip()!r}"
            )
            raise Problem(422, "invalid-chart", detail)
        settings.append({"architecture": words[0], "units": int(words[1])})
    return settings


def chart_body(form: dict[str, str]) -> ChartIn:
    """The JSON API's request body from the chart form's fields (422 problem if invalid)."""
    body: dict[str, Any] = {
        "task": form["task"],
        "task_parameters": form_json_object(
            "task parameters", form.get("task_parameters", ""), TASK_PARAMETERS_EXAMPLE
        ),
        "settings": _settings(form["settings"]),
        "networks_per_setting": form_number("networks per setting", form["networks_per_setting"]),
    }
    for name in ("seed_budget", "chunk_size"):
        if form.get(name):
            body[name] = form_number(name.replace("_", " "), form[name])
    if form.get("max_epochs"):
        body["training"] = {"max_epochs": form_number("max epochs", form["max_epochs"])}
    if form.get("max_validation_loss"):
        loss = form_number("max validation loss", form["max_validation_loss"], float)
        body["acceptance"] = {"max_validation_loss": loss}
    return form_model(ChartIn, body, "invalid-chart", "the chart form")


@router.post("/atlas/work/charts", response_class=HTMLResponse)
def submit_chart_form(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    task: Field,
    chart_settings: Annotated[str, Form(alias="settings", max_length=4096)],
    networks_per_setting: Field,
    api_key: Field = "",
    seed_budget: Field = "",
    chunk_size: Field = "",
    max_epochs: Field = "",
    max_validation_loss: Field = "",
    task_parameters: Field = "",
) -> Response:
    form = {
        "task": task,
        "settings": chart_settings,
        "networks_per_setting": networks_per_setting,
        "seed_budget": seed_budget,
        "chunk_size": chunk_size,
        "max_epochs": max_epochs,
        "max_validation_loss": max_validation_loss,
        "task_parameters": task_parameters,
    }
    return submitted(
        request,
        api_key,
        lambda: submit_chart(
            body=chart_body(form),
            response=Response(),
            sessions=sessions,
            settings=settings,
            idempotency_key=None,
        ),
        lambda problem: work_page(
            request,
            session,
            problem.status,
            chart_error=problem.detail,
            key_refused=key_refused(problem),
            **{f"chart_{k}": v for k, v in form.items()},
        ),
        lambda chart: f"/atlas/charts/{chart.id}",
    )


@router.post("/atlas/charts/{chart_id}/cancel", response_class=HTMLResponse)
def cancel_chart_form(
    request: Request, sessions: SessionsDep, chart_id: ChartId, api_key: Field = ""
) -> Response:
    check_key(request, api_key)
    cancel_chart(chart_id=chart_id, sessions=sessions)
    return RedirectResponse(f"/atlas/charts/{chart_id}", status_code=303)
