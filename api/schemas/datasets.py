"""What `POST /datasets/import` returns: which networks the dataset brought, which were
already in the atlas, their types, and the chart re-created from it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DatasetImport(BaseModel):
    title: str = Field(description="The dataset's title (from its dataset.json).")
    networks: int = Field(description="Networks in the dataset.")
    created: list[int] = Field(description="Solutions this import added (new ids).")
    existing: list[int] = Field(
        description="Solutions already in the atlas with the same content key: not duplicated."
    )
    types: dict[str, int] = Field(
        description="The dataset's networks per solution type (types of this atlas)."
    )
    analysing: list[int] = Field(
        description="Added solutions whose analysis the dataset left incomplete: queued."
    )
    solutions: dict[str, str] = Field(
        description="Each dataset network id (n0001, ...) and its solution's URL here."
    )
    chart: str | None = Field(
        default=None, description="The chart re-created from a chart's dataset (its URL)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "delayed vanilla 20",
                    "networks": 2,
                    "created": [41, 42],
                    "existing": [],
                    "types": {"delayed-d8539873": 2},
                    "analysing": [],
                    "solutions": {"n0001": "/solutions/41", "n0002": "/solutions/42"},
                    "chart": None,
                }
            ]
        }
    }
