"""`POST /datasets/import`: an exported dataset (atlas export) into this atlas, no retraining.

The upload is an archive (.zip, .tar or .tar.gz) of at most MAX_DATASET_BYTES; it is unpacked
in memory under limits (no path outside the dataset, no links, capped sizes), read as JSON and
safetensors only (nothing is unpickled), checked in full and written in one transaction
(atlas.store.datasets). Any refusal is a 422 problem naming it, and writes nothing. A network
already in the atlas (same content key) is not written again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile, status

from api.auth import AUTH_RESPONSES, require_api_key
from api.deps import SessionsDep, SettingsDep
from api.problems import Problem
from api.queueing import enqueue_or_503
from api.schemas.datasets import DatasetImport
from api.schemas.jobs import MAX_UNITS
from atlas.datasets import Limits, parse_dataset, read_files
from atlas.store import add_dataset, fail_unqueued_analysis
from worker.dispatch import enqueue_analysis

router = APIRouter(prefix="/datasets", tags=["datasets"])
MAX_DATASET_BYTES = 16 * 1024 * 1024
#: What an upload may unpack to and ask the server to check (networks of at most the units a
#: job may train, as for /solutions/import).
UNPACKED_LIMITS = Limits(
    max_files=20_000, max_total_bytes=256 * 2**20, max_networks=2_000, max_units=MAX_UNITS
)


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetImport,
    summary="Import an exported dataset (networks, analyses, types) without retraining",
    description=(
        "Multipart form: `file`, a `.zip`, `.tar` or `.tar.gz` of a dataset written by "
        f"`atlas export` (layout in docs/datasets.md), at most {MAX_DATASET_BYTES // 2**20} "
        "MiB. Every file must match the SHA-256 manifest; weights must reproduce their "
        "recorded validation loss; analyses are checked against the weights. 201 when "
        "networks were added, 200 when all were already here."
    ),
    dependencies=[Depends(require_api_key)],
    responses={
        **AUTH_RESPONSES,
        200: {"description": "Every network of the dataset was already in the atlas."},
        413: {"description": "Archive too large."},
        422: {"description": "Not a dataset, tampered with, or inconsistent: nothing written."},
    },
)
def import_dataset_route(
    response: Response,
    sessions: SessionsDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The dataset archive.")],
) -> DatasetImport:
    payload = file.file.read(MAX_DATASET_BYTES + 1)
    if len(payload) > MAX_DATASET_BYTES:
        raise Problem(413, "file-too-large", f"datasets are limited to {MAX_DATASET_BYTES} bytes")
    dataset = parse_dataset(read_files(payload, UNPACKED_LIMITS))
    report = add_dataset(sessions, dataset, UNPACKED_LIMITS)
    for network_id in report.to_analyse:
        enqueue_or_503(
            lambda network_id=network_id: enqueue_analysis(network_id, settings),
            lambda _reason, network_id=network_id: fail_unqueued_analysis(sessions, network_id),
            f"solution {network_id} was imported, but its analysis",
            solution=f"/solutions/{network_id}",
        )
    if not report.created:
        response.status_code = status.HTTP_200_OK
    return DatasetImport(
        title=report.title,
        networks=report.networks,
        created=report.created,
        existing=report.existing,
        types=report.types,
        analysing=report.to_analyse,
        solutions={key: f"/solutions/{network_id}" for key, network_id in report.ids.items()},
        chart=None if report.chart_id is None else f"/charts/{report.chart_id}",
    )
