"""`/health`: is the database reachable, and the broker when one is configured."""

from __future__ import annotations

from fastapi import APIRouter
from kombu import Connection
from sqlalchemy import text

from api.deps import SessionDep, SettingsDep
from api.problems import unavailable
from api.schemas.health import HealthOut

router = APIRouter(tags=["health"])
BROKER_TIMEOUT_S = 2.0


def _database_status(session: SessionDep) -> str:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not healthy", reported as text
        return f"error: {type(exc).__name__}: {exc}".splitlines()[0]
    return "ok"


def _broker_status(broker_url: str | None) -> str:
    if broker_url is None:
        return "embedded"
    try:
        with Connection(broker_url, connect_timeout=BROKER_TIMEOUT_S) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
    except Exception as exc:  # kombu raises driver-specific errors
        return f"error: {type(exc).__name__}: {exc}".splitlines()[0]
    return "ok"


@router.get(
    "/health",
    response_model=HealthOut,
    summary="Database and broker reachability",
    responses={503: {"description": "A dependency is down; the problem lists each check."}},
)
def health(session: SessionDep, settings: SettingsDep) -> HealthOut:
    report = HealthOut(
        status="ok",
        database=_database_status(session),
        broker=_broker_status(settings.broker_url),
    )
    if report.database != "ok" or report.broker.startswith("error"):
        raise unavailable(
            "unhealthy",
            "a dependency of the service is unreachable",
            database=report.database,
            broker=report.broker,
        )
    return report
