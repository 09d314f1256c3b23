"""What a solution's analyses return: fixed points, limit cycles, extrapolation signature, graph."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FixedPointOut(BaseModel):
    kind: str = Field(description="`fixed` (q below the fixed-point tolerance) or `slow`.")
    q: float = Field(description="Speed 0.5 * |F(h) - h|^2 at the point.")
    stable: bool = Field(description="All eigenvalues of the step map's Jacobian inside |z| < 1.")
    state: list[float] = Field(description="The point ([h, c] for an LSTM).")
    output: list[float] = Field(description="The readout at the point.")
    eigenvalues: list[tuple[float, float]] = Field(
        description="Jacobian eigenvalues as [real, imaginary], largest modulus first."
    )
    jacobian: list[list[float]] | None = Field(
        default=None, description="The step map's Jacobian (with `jacobians=true`)."
    )


class FixedPointConditionOut(BaseModel):
    condition: str = Field(description="`zero` or the constant input, e.g. `set=1`.")
    inputs: list[float]
    continuous: bool
    count: int
    points: list[FixedPointOut]


class FixedPointsOut(BaseModel):
    solution_id: int
    conditions: list[FixedPointConditionOut] = Field(
        description="Every input condition searched, zero input first (some may have no point)."
    )
    arrays: list[str] = Field(description="Names accepted by `?format=npy&array=`.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "solution_id": 42,
                    "conditions": [
                        {
                            "condition": "zero",
                            "inputs": [0.0, 0.0],
                            "continuous": False,
                            "count": 1,
                            "points": [
                                {
                                    "kind": "fixed",
                                    "q": 3.1e-17,
                                    "stable": True,
                                    "state": [0.12, -0.53, 0.08],
                                    "output": [0.01],
                                    "eigenvalues": [[0.97, 0.0], [0.41, 0.2], [0.41, -0.2]],
                                    "jacobian": None,
                                }
                            ],
                        }
                    ],
                    "arrays": ["conditions", "eigenvalues", "inputs", "kinds", "states"],
                }
            ]
        }
    }


class LimitCycleOut(BaseModel):
    index: int = Field(description="Pass as `cycle=` to download this cycle's states as .npy.")
    period: float = Field(description="In steps; interpolated, so not always a whole number.")
    diameter: float
    closing_error: float = Field(description="Distance at the return, relative to the diameter.")
    sample_dt: float
    continuous: bool
    output_min: list[float]
    output_max: list[float]
    outputs: list[list[float]] = Field(description="The output along one period.")
    states: list[list[float]] | None = Field(
        default=None, description="The states along one period (omitted with `states=false`)."
    )


class CycleConditionOut(BaseModel):
    condition: str
    inputs: list[float]
    count: int
    cycles: list[LimitCycleOut]


class LimitCyclesOut(BaseModel):
    solution_id: int
    conditions: list[CycleConditionOut]
    arrays: list[str] = Field(
        description="Names accepted by `?format=npy&array=`; `states` and `outputs` need `cycle=`."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "solution_id": 42,
                    "conditions": [
                        {
                            "condition": "zero",
                            "inputs": [0.0, 0.0],
                            "count": 1,
                            "cycles": [
                                {
                                    "index": 0,
                                    "period": 73.0,
                                    "diameter": 2.4,
                                    "closing_error": 0.002,
                                    "sample_dt": 1.0,
                                    "continuous": False,
                                    "output_min": [-0.02],
                                    "output_max": [0.04],
                                    "outputs": [[0.01], [0.02]],
                                    "states": None,
                                }
                            ],
                        }
                    ],
                    "arrays": ["closing_errors", "conditions", "outputs", "periods", "states"],
                }
            ]
        }
    }


class ExtrapolationOut(BaseModel):
    solution_id: int
    task: str
    summary: dict[str, float | None] = Field(
        description="Scalars of the signature (null where undefined, e.g. no cycle period)."
    )
    arrays: dict[str, list[Any]] = Field(
        description="The signature's arrays over the probe grid as nested lists (null for NaN)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "solution_id": 42,
                    "task": "reproduction",
                    "summary": {"tp_error_in_range": 0.0, "extrapolation_limit": 55.0},
                    "arrays": {"ts": [5.0, 6.0, 7.0], "tp": [9.0, None, 7.0]},
                }
            ]
        }
    }


class NodeOut(BaseModel):
    id: int = Field(description="Node 0 is the start state.")
    output: int = Field(description="The task's output label at this node.")


class EdgeOut(BaseModel):
    source: int
    target: int
    edge_type: int = Field(description="0 autonomous, else the input event's type (see /tasks).")


class NodeLinkOut(BaseModel):
    directed: bool = True
    nodes: list[NodeOut]
    edges: list[EdgeOut]


class GraphOut(BaseModel):
    solution_id: int
    solution_type: str | None = Field(description="The type this compact graph belongs to.")
    canonical_hash: str = Field(description="Weisfeiler-Lehman hash of the compact graph.")
    nodes: int
    edges: int
    compact: NodeLinkOut
    full: NodeLinkOut = Field(description="The graph before compaction.")
    links: dict[str, str]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "solution_id": 42,
                    "solution_type": "reproduction-1a2b3c4d",
                    "canonical_hash": "1a2b3c4d5e6f7a8b",
                    "nodes": 2,
                    "edges": 3,
                    "compact": {
                        "directed": True,
                        "nodes": [{"id": 0, "output": 0}, {"id": 1, "output": 1}],
                        "edges": [
                            {"source": 0, "target": 0, "edge_type": 0},
                            {"source": 0, "target": 1, "edge_type": 2},
                            {"source": 1, "target": 0, "edge_type": 0},
                        ],
                    },
                    "full": {"directed": True, "nodes": [], "edges": []},
                    "links": {"svg": "/solutions/42/plots/graph.svg"},
                }
            ]
        }
    }
