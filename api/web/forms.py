"""What the explorer's write forms share: the API key checked as the API checks it, and the
Work page (re-)rendered with a form's values and the problem that stopped it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.auth import require_api_key
from api.deps import SessionDep
from api.web.templating import render
from atlas.store import all_tasks, recent_work

ARCHITECTURES = ("vanilla", "gru", "lstm")
RECENT = 20


def task_names(session: Session) -> list[str]:
    """The tasks a form offers: the built-in ones, then each user's declared task."""
    return [task.name for task in all_tasks(session)]


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
        tasks=task_names(session),
        architectures=ARCHITECTURES,
        work=recent_work(session, RECENT),
        form=form,
    )
