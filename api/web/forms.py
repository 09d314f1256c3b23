"""What the explorer's write forms share: the API key checked as the API checks it, and the
Work page (re-)rendered with a form's values and the problem that stopped it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.auth import require_api_key
from api.deps import SessionDep
from api.web.templating import render
from atlas.store import recent_work
from atlas.tasks import TASKS

TRIAL_TASKS = list(TASKS)
ARCHITECTURES = ("vanilla", "gru", "lstm")
RECENT = 20


def check_key(request: Request, key: str) -> None:
    """A form's API key, checked exactly as a write's header is (401/403 problems)."""
    require_api_key(request, header_key=key or None, bearer=None)


def work_page(
    request: Request, session: SessionDep, status_code: int = 200, **form: Any
) -> HTMLResponse:
    return render(
        request,
        "work.html",
        status_code=status_code,
        title="Work",
        tasks=TRIAL_TASKS,
        architectures=ARCHITECTURES,
        work=recent_work(session, RECENT),
        form=form,
    )
