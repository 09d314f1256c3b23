"""Schemathesis against the live app, every operation, with the API key: no server error, no
status code or content type the OpenAPI does not declare, no response outside its schema.

Requests are generated from the OpenAPI document on a fixed seed, EXAMPLES per operation
(the whole module runs in under a minute on 2 cores). The atlas holds one reference network
so that the reads find rows. Jobs run in-process, but the server's work budget is
small (WORK_BUDGET multiply-adds, about a second), so that the few generated jobs it accepts
finish at once and the rest are refused with the documented over-budget 422.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from atlas.config import Settings
from atlas.store import migrate, save_imported_network
from atlas.tasks import get_task

API_KEY = "schemathesis-key-0123456789"
EXAMPLES = 12
WORK_BUDGET = 10**9
SEED = 20261204
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

pytestmark = pytest.mark.slow


FOLDER = Path(tempfile.mkdtemp(prefix="atlas-schemathesis-"))
migrate(f"sqlite:///{FOLDER / 'atlas.db'}")  # loading the schema below runs the app's lifespan
APP = create_app(
    Settings(
        database_url=f"sqlite:///{FOLDER / 'atlas.db'}",
        api_key=API_KEY,
        data_dir=FOLDER,
        max_job_work=WORK_BUDGET,
        torch_threads=1,
        device="cpu",
    )
)
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": EXAMPLES, "mode": "all", "no-shrink": True},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def live_app(reference_networks) -> Iterator[None]:
    """The app's lifespan running; one reference network stored (its analyses left pending,
    so that no analysis runs in the background while requests are timed)."""
    reference = next(r for r in reference_networks if r.task == "delayed")
    try:
        with TestClient(APP), APP.state.sessions() as session:
            save_imported_network(session, get_task("delayed"), reference.state_dict, 1e-5)
            session.commit()
            yield
    finally:
        shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case):
    case.call_and_validate(headers={"X-API-Key": API_KEY}, checks=CHECKS)
