"""`POST /classify`: the solution type predicted for a network from its neural features, with
probabilities, and its actual type where its graph is known.

Two bodies: JSON `{"network_id": N}` for a solution in the atlas, or a multipart form with a
state dict `file` and its `task` for a network from elsewhere (loaded safely: tensors only;
not stored). The predictor is fitted on the atlas' typed networks of the task
(api.classification).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api.auth import AUTH_RESPONSES, require_api_key
from api.classification import (
    MIN_MEMBERS,
    SPLITS,
    TaskPredictor,
    fit_task_predictor,
    matching_type,
    score_task_predictor,
)
from api.deps import SessionDep
from api.problems import Problem
from api.schemas.classify import (
    ClassificationOut,
    ClassifyById,
    PredictorOut,
    PredictorScoreOut,
    PredictorTypeOut,
    TypeProbability,
    TypeRef,
)
from api.uploads import (
    MAX_IMPORT_BYTES,
    upload_task,
    uploaded_state_dict,
    uploaded_validation_loss,
)
from api.variants import TaskQuery, VariantQuery, task_variant
from atlas.analysis.classifier import TREES
from atlas.analysis.features import neural_features
from atlas.analysis.graph import build_graph
from atlas.network_status import no_solution_reason
from atlas.networks import RNNPopulation, from_state_dicts
from atlas.store import (
    analysis_unavailable,
    get_solution,
    load_population,
    network_features,
    network_solution_type,
    solution_task,
)
from atlas.tasks import TrialTask, variant_key

router = APIRouter(tags=["classify"])

_UPLOAD_SCHEMA = {
    "type": "object",
    "required": ["file", "task"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "A torch.save state dict."},
        "task": {"type": "string", "description": "Task name or alias.", "example": "rsg"},
    },
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": ClassifyById.model_json_schema(),
                "example": {"network_id": 42},
            },
            "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
        },
    }
}


def _type_ref(type_id: int, name: str) -> TypeRef:
    return TypeRef(id=type_id, name=name, link=f"/types/{type_id}")


def _classification(
    task: str,
    predictor: TaskPredictor,
    features: np.ndarray,
    actual: dict[str, Any],
    network_id: int | None = None,
    validation_loss: float | None = None,
) -> ClassificationOut:
    if not np.isfinite(features).all():
        raise Problem(
            422,
            "features-undefined",
            "some neural features of this network are undefined (NaN): it cannot be classified",
        )
    ranked = predictor.probabilities(features)
    probabilities = [
        TypeProbability(type=_type_ref(summary.id, summary.name), probability=p)
        for summary, p in ranked
    ]
    return ClassificationOut(
        task=task,
        network_id=network_id,
        validation_loss=validation_loss,
        features=dict(zip(predictor.data.feature_names, features.tolist(), strict=True)),
        predicted_type=probabilities[0].type,
        probabilities=probabilities,
        predictor=PredictorOut(
            networks=len(predictor.data.network_ids),
            types=len(predictor.data.types),
            min_members=MIN_MEMBERS,
            trees=TREES,
            includes_this_network=network_id in predictor.data.network_ids,
        ),
        **actual,
    )


def _features(population: RNNPopulation, task: TrialTask) -> np.ndarray:
    return neural_features(population, task)[1][0]


def classify_stored(session: Session, network_id: int) -> ClassificationOut:
    """A solution of the atlas: its stored features (computed from its weights while its
    features step is pending) and its stored type."""
    network = get_solution(session, network_id)
    task = solution_task(session, network)
    predictor = fit_task_predictor(session, network.task, variant_key(task))
    stored = network_features(session, network_id)
    if stored is None:
        features = _features(load_population(session, [network_id]), task)
    else:
        features = np.array([stored[name] for name in predictor.data.feature_names])
    found = network_solution_type(session, network_id)
    if found is not None:
        actual = {"actual_type": _type_ref(found.id, found.name), "actual_status": "stored"}
        actual["actual_detail"] = None
    else:
        missing = analysis_unavailable(session, network_id, "solution_type")
        actual = {
            "actual_type": None,
            "actual_status": missing.extra["analysis_status"],
            "actual_detail": missing.detail,
        }
    return _classification(
        network.task,
        predictor,
        features,
        actual,
        network_id=network_id,
        validation_loss=network.validation_loss,
    )


def _actual_from_graph(session: Session, population: RNNPopulation, task: TrialTask) -> dict:
    try:
        compact = build_graph(population, task).compact
    except Exception as exc:  # an arbitrary upload may defeat the reduction in any way
        detail = f"its reduced graph could not be built: {type(exc).__name__}: {exc}"
        return {"actual_type": None, "actual_status": "unavailable", "actual_detail": detail}
    found = matching_type(session, task.name, compact)
    if found is None:
        detail = "its graph is isomorphic to no stored type of the task: a new type"
        return {"actual_type": None, "actual_status": "new", "actual_detail": detail}
    return {
        "actual_type": _type_ref(found.id, found.name),
        "actual_status": "matched",
        "actual_detail": None,
    }


def classify_upload(session: Session, task_name: str, payload: bytes) -> ClassificationOut:
    """A network from elsewhere, on the task's default parameters: features and graph computed
    here, the graph matched against the task's stored types. Nothing is stored."""
    task = upload_task(task_name, session)
    predictor = fit_task_predictor(session, task.name)
    population = from_state_dicts([uploaded_state_dict(payload, task)])
    loss = uploaded_validation_loss(population, task)
    no_solution = no_solution_reason(loss)
    if no_solution is None:
        actual = _actual_from_graph(session, population, task)
    else:  # as the analysis does: a network that is no solution has no graph to type
        actual = {"actual_type": None, "actual_status": "skipped", "actual_detail": no_solution}
    features = _features(population, task)
    return _classification(task.name, predictor, features, actual, validation_loss=loss)


async def _form_upload(request: Request) -> tuple[str, bytes]:
    form = await request.form(max_files=1, max_fields=4)
    upload, task = form.get("file"), form.get("task")
    if not isinstance(upload, UploadFile) or not isinstance(task, str) or not task:
        raise Problem(
            422, "invalid-upload", "a multipart upload needs a state dict `file` and a `task`"
        )
    return task, await upload.read(MAX_IMPORT_BYTES + 1)


@router.post(
    "/classify",
    response_model=ClassificationOut,
    summary="Predict a network's solution type from its neural features",
    description=(
        'Body: JSON `{"network_id": N}` for a solution of the atlas, or a multipart form '
        "with a state dict `file` (as for `/solutions/import`) and its `task`, for a network "
        "that is not in the atlas (nothing is stored). The type predictor is a random forest "
        f"of {TREES} trees fitted on the task's networks that have both neural features and a "
        f"type, over the types with at least {MIN_MEMBERS} such networks; with fewer than two "
        "such types the answer is 409. The actual type is the stored one (by id) or the stored "
        "type the upload's reduced graph is isomorphic to."
    ),
    dependencies=[Depends(require_api_key)],
    openapi_extra=_REQUEST_BODY,
    responses={
        **AUTH_RESPONSES,
        400: {"description": "Malformed JSON."},
        404: {"description": "No such solution."},
        409: {"description": "Too few typed networks of the task to fit a predictor."},
        413: {"description": "File too large."},
        415: {"description": "Neither JSON nor a multipart form."},
        422: {"description": "Unknown task, not a state dict, or shapes that do not fit."},
    },
)
async def classify(request: Request, session: SessionDep) -> ClassificationOut:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        task, payload = await _form_upload(request)
        return await run_in_threadpool(classify_upload, session, task, payload)
    if media_type == "application/json":
        try:
            body = ClassifyById.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from exc
        return await run_in_threadpool(classify_stored, session, body.network_id)
    raise Problem(
        415,
        "unsupported-media-type",
        'send JSON {"network_id": N} or a multipart form with a state dict `file` and `task`',
    )


@router.get(
    "/classify/predictor",
    response_model=PredictorScoreOut,
    summary="How well neural features predict a task variant's solution types",
    description=(
        "The type predictor `/classify` uses for the task variant, scored as the paper scores "
        f"it: Cohen's kappa of held-out predictions over {SPLITS} stratified shuffle splits "
        "(90/10, or one network per type held out where that is more), each split a forest "
        f"of {TREES} trees fitted on the rest. Takes seconds: {SPLITS} forests are fitted."
    ),
    responses={
        404: {"description": "The task has no types under that variant."},
        409: {"description": "Too few typed networks of the task variant to fit a predictor."},
        422: {"description": "Unknown task."},
    },
)
def predictor_score(
    session: SessionDep, task: TaskQuery, variant: VariantQuery = None
) -> PredictorScoreOut:
    name, variant, _ = task_variant(session, task, variant)
    score = score_task_predictor(session, name, variant)
    members = Counter(score.data.labels.tolist())
    return PredictorScoreOut(
        task=name,
        variant=variant,
        networks=len(score.data.network_ids),
        types=[
            PredictorTypeOut(
                **_type_ref(type_id, score.data.types[type_id].name).model_dump(), members=count
            )
            for type_id, count in members.most_common()
        ],
        min_members=MIN_MEMBERS,
        trees=TREES,
        splits=SPLITS,
        test_share=score.test_share,
        kappa_mean=score.kappa.mean,
        kappa_std=score.kappa.std,
        kappa_per_split=score.kappa.per_split.tolist(),
    )
