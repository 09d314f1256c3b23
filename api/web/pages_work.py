"""Pages that start and follow work: train a population (form, live progress, cancel), import a
state dict and see its type, and the two-neuron study (start one from a form, follow its
progress, cancel it, see its regimes).

The forms post to these pages, which call the API's own route functions (same checks, same
key), so they work without JavaScript; atlas.js instead posts to the JSON API with the key it
keeps in sessionStorage and follows progress by polling it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Query, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import MAX_TEXT, JobId, SessionDep, SessionsDep, SettingsDep
from api.problems import Problem, as_problem
from api.routes.imports import import_solution
from api.routes.jobs import cancel, read_job, submit_job
from api.routes.two_neuron import StudyId, read_regimes, read_study
from api.routes.two_neuron import cancel as cancel_study
from api.routes.two_neuron import submit_study as submit_study_route
from api.schemas.jobs import JobIn
from api.schemas.two_neuron import StudyIn
from api.web.forms import (
    TASK_PARAMETERS_EXAMPLE,
    check_key,
    form_json_object,
    form_model,
    form_number,
    key_refused,
    submitted,
    task_names,
    work_page,
)
from api.web.page_route import page_router
from api.web.templating import render
from atlas.errors import AtlasError, NotFoundError
from atlas.store import DEFAULT_STUDY_SIZE, MAX_STUDY_SIZE, UNFINISHED
from atlas.studies import TwoNeuronModel
from atlas.training import TwoNeuronTrainingConfig

router = page_router()
Field = Annotated[str, Form(max_length=4096)]
#: A two-neuron model-parameters object for the study form's hints (its page shows it too).
MODEL_PARAMETERS_EXAMPLE = '{"t_final": 5}'


@router.get("/atlas/work", response_class=HTMLResponse)
def work(request: Request, session: SessionDep) -> HTMLResponse:
    return work_page(request, session)


def _job_body(form: dict[str, str]) -> JobIn:
    """The JSON API's request body from the form's text fields (422 problem if invalid)."""
    body: dict[str, Any] = {
        "task": form["task"],
        "architecture": form["architecture"],
        "units": form_number("units", form["units"]),
        "count": form_number("count", form["count"]),
        "seed": form_number("seed", form.get("seed") or "0"),
        "task_parameters": form_json_object(
            "task parameters", form.get("task_parameters", ""), TASK_PARAMETERS_EXAMPLE
        ),
    }
    if form.get("max_epochs"):
        body["training"] = {"max_epochs": form_number("max epochs", form["max_epochs"])}
    return form_model(JobIn, body, "invalid-job", "the job form")


@router.post("/atlas/work/jobs", response_class=HTMLResponse)
def submit_job_form(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    task: Field,
    architecture: Field,
    units: Field,
    count: Field,
    api_key: Field = "",
    seed: Field = "0",
    max_epochs: Field = "",
    task_parameters: Field = "",
) -> Response:
    form = {
        "task": task,
        "architecture": architecture,
        "units": units,
        "count": count,
        "seed": seed,
        "max_epochs": max_epochs,
        "task_parameters": task_parameters,
    }
    return submitted(
        request,
        api_key,
        lambda: submit_job(
            body=_job_body(form),
            response=Response(),
            sessions=sessions,
            settings=settings,
            idempotency_key=None,
        ),
        lambda problem: work_page(
            request,
            session,
            problem.status,
            error=problem.detail,
            key_refused=key_refused(problem),
            **form,
        ),
        lambda job: f"/atlas/work/jobs/{job.id}",
    )


@router.get("/atlas/work/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, sessions: SessionsDep, job_id: JobId) -> HTMLResponse:
    job = read_job(job_id=job_id, sessions=sessions)
    return render(
        request,
        "job.html",
        title=f"Job {job.id}",
        job=job,
        unfinished=job.status in UNFINISHED,
    )


@router.post("/atlas/work/jobs/{job_id}/cancel", response_class=HTMLResponse)
def cancel_job_form(
    request: Request, sessions: SessionsDep, job_id: JobId, api_key: Field = ""
) -> Response:
    check_key(request, api_key)
    cancel(job_id=job_id, sessions=sessions)
    return RedirectResponse(f"/atlas/work/jobs/{job_id}", status_code=303)


@router.get("/atlas/import", response_class=HTMLResponse)
def import_page(request: Request, session: SessionDep) -> HTMLResponse:
    tasks = task_names(session)
    return render(request, "import.html", title="Import a network", tasks=tasks, form={})


@router.post("/atlas/import", response_class=HTMLResponse)
def import_form(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File()],
    task: Field,
    api_key: Field = "",
    name: Field = "",
) -> Response:
    try:
        check_key(request, api_key)
        answer = Response()
        solution = import_solution(
            response=answer,
            session=session,
            sessions=sessions,
            settings=settings,
            file=file,
            task=task,
            name=name or None,
        )
    except (Problem, AtlasError) as error:
        session.rollback()
        problem = as_problem(error)
        form = {
            "task": task,
            "name": name,
            "error": problem.detail,
            "key_refused": key_refused(problem),
        }
        return render(
            request,
            "import.html",
            status_code=problem.status,
            title="Import a network",
            tasks=task_names(session),
            form=form,
        )
    already = answer.headers.get("Idempotent-Replayed") == "true"
    target = f"/atlas/solutions/{solution.id}" + ("?already=true" if already else "")
    return RedirectResponse(target, status_code=303)


def _two_neuron_page(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    study_id: int | None,
    status_code: int = 200,
    **form: Any,
) -> HTMLResponse:
    """The study `study_id` (default: the latest finished one): its progress, cancel while it
    runs, its regimes; and the form to start a study, with `form`'s values and problem."""
    try:
        regimes = read_regimes(session=session, study=study_id)
    except NotFoundError:
        if study_id is not None:
            raise
        regimes = None  # no study yet: the page offers to start one
    study = read_study(study_id=regimes.study_id, sessions=sessions) if regimes else None
    names = [*regimes.eigenvalue_rule.regimes_all, *regimes.dynamics.regimes_all] if regimes else []
    return render(
        request,
        "two_neuron.html",
        status_code=status_code,
        title="Two-neuron study",
        regimes=regimes,
        study=study,
        unfinished=study is not None and study.status in UNFINISHED,
        regime_names=list(dict.fromkeys(names)),
        model=TwoNeuronModel(),
        training=TwoNeuronTrainingConfig(),
        paper_count=DEFAULT_STUDY_SIZE,
        max_count=MAX_STUDY_SIZE,
        max_name=MAX_TEXT,
        form=form,
    )


@router.get("/atlas/two-neuron", response_class=HTMLResponse)
def two_neuron_page(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    study: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    return _two_neuron_page(request, session, sessions, study)


def _study_body(form: dict[str, str]) -> StudyIn:
    """The JSON API's request body from the study form's text fields (422 problem if invalid)."""
    body: dict[str, Any] = {
        "count": form_number("count", form["count"]),
        "seed": form_number("seed", form.get("seed") or "0"),
        "name": form.get("name") or None,
        "task_parameters": form_json_object(
            "model parameters", form.get("task_parameters", ""), MODEL_PARAMETERS_EXAMPLE
        ),
    }
    training: dict[str, int | float] = {}
    if form.get("max_steps"):
        training["max_steps"] = form_number("max steps", form["max_steps"])
    if form.get("learning_rate"):
        training["learning_rate"] = form_number("learning rate", form["learning_rate"], float)
    if training:
        body["training"] = training
    return form_model(StudyIn, body, "invalid-study", "the study form")


@router.post("/atlas/two-neuron/studies", response_class=HTMLResponse)
def submit_study_form(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    count: Field,
    api_key: Field = "",
    seed: Field = "0",
    name: Field = "",
    max_steps: Field = "",
    learning_rate: Field = "",
    task_parameters: Field = "",
) -> Response:
    form = {
        "count": count,
        "seed": seed,
        "name": name,
        "max_steps": max_steps,
        "learning_rate": learning_rate,
        "task_parameters": task_parameters,
    }
    # The form's #new-study shows a refusal where it was asked; the study's page opens at it.
    return submitted(
        request,
        api_key,
        lambda: submit_study_route(
            body=_study_body(form),
            response=Response(),
            sessions=sessions,
            settings=settings,
            idempotency_key=None,
        ),
        lambda problem: _two_neuron_page(
            request,
            session,
            sessions,
            None,
            problem.status,
            error=problem.detail,
            key_refused=key_refused(problem),
            **form,
        ),
        lambda study: f"/atlas/two-neuron?study={study.id}#study",
    )


@router.post("/atlas/two-neuron/studies/{study_id}/cancel", response_class=HTMLResponse)
def cancel_study_form(
    request: Request, sessions: SessionsDep, study_id: StudyId, api_key: Field = ""
) -> Response:
    check_key(request, api_key)
    cancel_study(study_id=study_id, sessions=sessions)
    return RedirectResponse(f"/atlas/two-neuron?study={study_id}", status_code=303)
