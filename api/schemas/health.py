"""What `/health` returns."""

from __future__ import annotations

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: str = Field(description="`ok` when every configured dependency answered.")
    database: str = Field(description="`ok`, or the error the database ping raised.")
    broker: str = Field(
        description="`ok`, `embedded` (no broker: jobs run in-process) or an error."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"status": "ok", "database": "ok", "broker": "embedded"}]
        }
    }
