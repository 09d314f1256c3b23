"""What the explorer's write forms share: the API key checked as the API checks it, and the
Work page (re-)rendered with a form's values and the problem that stopped it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from api.auth import require_api_key
from api.deps import SessionDep
from api.problems import Problem, as_problem, summarise_errors
from api.web.templating import render
from atlas.errors import AtlasError
from atlas.store import all_tasks, recent_work

Body = TypeVar("Body", bound=BaseModel)
Created = TypeVar("Created")
ARCHITECTURES = ("vanilla", "gru", "lstm")
RECENT = 20
#: A task-parameters object for the job and chart forms' hints (the work page shows it too).
TASK_PARAMETERS_EXAMPLE = '{"delay_max": 2}'


def form_number(name: str, text: str, kind: type[int] | type[float] = int) -> int | float:
    """A form's text field as a number, or a 422 that names the field (not Python's message
    about int())."""
    try:
        return kind(text.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise Problem(422, "invalid-form", f"{name} must be {what}, not {text!r}") from None


def form_choice(name: str, value: str | None, choices: Sequence[str]) -> str | None:
    """A filter's select field: blank (its "any") is None; a value it does not offer is a 422
    that lists what it does (a hand-edited URL)."""
    if not value:
        return None
    if value not in choices:
        raise Problem(422, "invalid-filter", f"{name} must be one of {', '.join(choices)}")
    return value


def form_json_object(name: str, text: str, example: str) -> dict[str, Any]:
    """A form's JSON field (blank: {}), or a 422 that names the field and shows `example`,
    an object that fits the form it is on."""
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise Problem(422, "invalid-form", f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Problem(422, "invalid-form", f"{name} must be a JSON object, like {example}")
    return value


def form_model(model: type[Body], body: dict[str, Any], slug: str, what: str) -> Body:
    """The API's request model from a form's values; its mistakes as one readable line."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise Problem(422, slug, f"{what} is not valid: {summarise_errors(exc.errors())}") from None


def task_names(session: Session) -> list[str]:
    """The tasks a form offers: the built-in ones, then each user's declared task."""
    return [task.name for task in all_tasks(session)]


def check_key(request: Request, key: str) -> None:
    """A form's API key, checked exactly as a write's header is (401/403 problems); a missing
    one is asked for where a browser user gives it, the form's field."""
    if not key:
        raise Problem(
            401,
            "missing-api-key",
            "this needs the server's API key: enter it in the form's API key field (the "
            "server's ATLAS_API_KEY, or the key `atlas serve` printed when it generated one)",
        )
    require_api_key(request, header_key=key, bearer=None)


def key_refused(problem: Problem) -> bool:
    """Whether the form's key was missing or wrong: the page then says so to the script that
    keeps the key in the tab (data-key-refused), which forgets it and asks again."""
    return problem.status in (401, 403)


def submitted(
    request: Request,
    api_key: str,
    submit: Callable[[], Created],
    refused: Callable[[Problem], Response],
    location: Callable[[Created], str],
) -> Response:
    """A form that starts work through the API's own route, with the form's key: a refusal
    (the API's problem, in words) renders the form again through `refused`; the work made is
    shown on its page (303 to `location`), so a reload does not post again."""
    try:
        check_key(request, api_key)
        created = submit()
    except (Problem, AtlasError) as error:
        return refused(as_problem(error))
    return RedirectResponse(location(created), status_code=303)


def work_page(
    request: Request, session: SessionDep, status_code: int = 200, **form: Any
) -> HTMLResponse:
    return render(
        request,
        "work.html",
        status_code=status_code,
        title="Work",
        tasks=task_names(session),
        architectures=ARCHITECTURES,
        work=recent_work(session, RECENT),
        form=form,
    )
