"""What `/types` returns: a task's solution types with their counts, one type with members."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.analyses import NodeLinkOut

_TYPE_EXAMPLE = {
    "id": 3,
    "task": "reproduction",
    "variant": "default",
    "name": "reproduction-1a2b3c4d",
    "canonical_hash": "1a2b3c4d5e6f7a8b",
    "members": 41,
    "share": 0.41,
    "by_architecture": {"gru": 12, "vanilla": 29},
    "by_units": {"20": 15, "30": 26},
    "by_architecture_units": {"gru": {"20": 12}, "vanilla": {"20": 3, "30": 26}},
    "graph": {
        "directed": True,
        "nodes": [{"id": 0, "output": 0}, {"id": 1, "output": 1}],
        "edges": [{"source": 0, "target": 1, "edge_type": 2}],
    },
    "links": {
        "self": "/types/3",
        "graph_svg": "/types/3/graph.svg",
        "solutions": "/solutions?task=reproduction&type=reproduction-1a2b3c4d",
    },
}


class TypeOut(BaseModel):
    id: int
    task: str
    variant: str = Field(
        description="The task's parameter set: `default`, or `p` + 8 hex digits of the set."
    )
    name: str = Field(
        description="Stable: `<task>-<8 hex digits of the graph's hash>`, "
        "`<task>.<variant>-<...>` for another variant."
    )
    canonical_hash: str = Field(description="Weisfeiler-Lehman hash of the compact graph.")
    members: int = Field(description="Networks of this type.")
    share: float = Field(description="Its share of the task's typed networks.")
    by_architecture: dict[str, int]
    by_units: dict[int, int] = Field(description="Members by number of hidden units.")
    by_architecture_units: dict[str, dict[int, int]]
    graph: NodeLinkOut = Field(description="The representative compact graph of the type.")
    links: dict[str, str]

    model_config = {"json_schema_extra": {"examples": [_TYPE_EXAMPLE]}}


class VariantOut(BaseModel):
    variant: str
    task_parameters: dict[str, Any]
    types: int
    networks: int = Field(description="Typed networks of this variant.")
    link: str = Field(description="This variant's type table.")


class TypeTableOut(BaseModel):
    task: str
    variant: str = Field(description="The parameter set whose types these are.")
    task_parameters: dict[str, Any]
    networks: int = Field(description="The variant's networks that have a type.")
    coverage: float = Field(
        description="Share of those networks in types holding at least `coverage_threshold` "
        "of them (the paper's 2.5%)."
    )
    coverage_threshold: float
    types: list[TypeOut] = Field(description="Largest first.")
    variants: list[VariantOut] = Field(
        description="Every parameter set of the task that has types, the default first."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "task": "reproduction",
                    "variant": "default",
                    "task_parameters": {"ts_min": 20, "ts_max": 50},
                    "networks": 100,
                    "coverage": 0.97,
                    "coverage_threshold": 0.025,
                    "types": [_TYPE_EXAMPLE],
                    "variants": [
                        {
                            "variant": "default",
                            "task_parameters": {"ts_min": 20, "ts_max": 50},
                            "types": 1,
                            "networks": 100,
                            "link": "/types?task=reproduction&variant=default",
                        }
                    ],
                }
            ]
        }
    }


class TypeMemberOut(BaseModel):
    id: int
    architecture: str
    units: int
    source: str
    name: str | None
    validation_loss: float | None
    link: str


class TypeDetailOut(TypeOut):
    member_page: list[TypeMemberOut] = Field(description="A page of members, in id order.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page of members.")
    next: str | None = Field(description="The next page's URL; null at the end.")
