"""`/solutions/{id}/fixed-points`, `/limit-cycles`, `/extrapolation` and `/graph`: a solution's
dynamical analyses as JSON, their arrays also as `.npy` (see api.npy).

An analysis with no result yet is a 404 problem carrying its step's state (api.solution_analyses).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, Request, Response

from api.deps import SessionDep, SolutionId
from api.npy import ArrayQuery, FormatQuery, npy_response, npy_responses, wants_npy
from api.problems import Problem
from api.schemas.analyses import (
    ExtrapolationOut,
    FixedPointsOut,
    GraphOut,
    LimitCyclesOut,
)
from api.solution_analyses import select_conditions, stored_analysis
from atlas.analysis.fixed_point_conditions import ConditionPoints, FixedPointAnalysis
from atlas.errors import NotFoundError
from atlas.store import ConditionCycles, reduced_graph
from atlas.store import extrapolation_signature as stored_signature
from atlas.store import fixed_point_analysis as stored_fixed_points
from atlas.store import limit_cycles as stored_limit_cycles

router = APIRouter(prefix="/solutions", tags=["analyses"])

FIXED_POINT_ARRAYS = (
    "states",
    "q",
    "outputs",
    "jacobians",
    "eigenvalues",
    "stable",
    "kinds",
    "conditions",
    "inputs",
)
CYCLE_ARRAYS = ("periods", "diameters", "closing_errors", "conditions")
CYCLE_STATE_ARRAYS = ("states", "outputs")

ConditionQuery = Annotated[
    str | None, Query(description="Only this input condition (`zero`, `set=1`, ...).")
]


def fixed_point_arrays(conditions: list[ConditionPoints]) -> dict[str, np.ndarray]:
    """Every point of the conditions stacked in listing order, with its condition's label and
    input vector alongside (P rows each)."""
    sets = [c.points for c in conditions]
    arrays = {
        name: np.concatenate([np.asarray(getattr(s, name)) for s in sets])
        for name in ("states", "q", "outputs", "jacobians", "eigenvalues", "stable", "kinds")
    }
    arrays["conditions"] = np.array([c.label for c in conditions for _ in range(len(c.points))])
    inputs = [np.tile(c.inputs, (len(c.points), 1)) for c in conditions]
    arrays["inputs"] = np.concatenate(inputs).astype(np.float64)
    return arrays


@router.get(
    "/{solution_id}/fixed-points",
    response_model=FixedPointsOut,
    summary="Fixed and slow points under each constant input",
    description=(
        "Per input condition (zero input first, then each constant input level of the task): "
        "every distinct fixed or slow point with its q, output, eigenvalues and stability. "
        "`jacobians=true` adds each point's Jacobian. As `.npy` (`format=npy&array=NAME` or "
        "`Accept: application/x-npy`): the points of all (or the `condition`'s) conditions "
        f"stacked in listing order; arrays {', '.join(FIXED_POINT_ARRAYS)} (eigenvalues "
        "complex, kinds and conditions as unicode)."
    ),
    responses=npy_responses("The points as JSON, or one array as .npy."),
)
def read_fixed_points(
    solution_id: SolutionId,
    request: Request,
    session: SessionDep,
    condition: ConditionQuery = None,
    jacobians: Annotated[bool, Query(description="Include each point's Jacobian.")] = False,
    format: FormatQuery = "json",
    array: ArrayQuery = None,
) -> FixedPointsOut | Response:
    analysis = stored_analysis(session, solution_id, "fixed_points", stored_fixed_points).result
    conditions = select_conditions(analysis.conditions, condition)
    if wants_npy(request, format):
        arrays = fixed_point_arrays(conditions)
        return npy_response(arrays, array, f"solution-{solution_id}-fixed-points")
    return FixedPointsOut(
        solution_id=solution_id,
        **FixedPointAnalysis(conditions).to_dict(include_jacobians=jacobians),
        arrays=sorted(FIXED_POINT_ARRAYS),
    )


def _cycle_arrays(found: list[ConditionCycles], cycle: int | None) -> dict[str, np.ndarray]:
    cycles = [(entry.condition, c) for entry in found for c in entry.cycles]
    arrays = {
        "periods": np.array([c.period for _, c in cycles], dtype=np.float64),
        "diameters": np.array([c.diameter for _, c in cycles], dtype=np.float64),
        "closing_errors": np.array([c.closing_error for _, c in cycles], dtype=np.float64),
        "conditions": np.array([label for label, _ in cycles], dtype=str),
    }
    if cycle is not None:
        if cycle >= len(cycles):
            raise NotFoundError(
                f"cycle {cycle} asked for; {len(cycles)} were found", slug="cycle-not-found"
            )
        arrays["states"], arrays["outputs"] = cycles[cycle][1].states, cycles[cycle][1].outputs
    return arrays


@router.get(
    "/{solution_id}/limit-cycles",
    response_model=LimitCyclesOut,
    summary="Limit cycles of long autonomous runs",
    description=(
        "Per condition searched, the distinct periodic orbits the network settles on: period "
        "(steps, interpolated), diameter, closing error, outputs and states along one period "
        "(`states=false` leaves the states out). As `.npy`: arrays "
        f"{', '.join(CYCLE_ARRAYS)} over all cycles in listing order, and "
        f"{', '.join(CYCLE_STATE_ARRAYS)} of the cycle numbered `cycle` (its `index`)."
    ),
    responses=npy_responses("The cycles as JSON, or one array as .npy."),
)
def read_limit_cycles(
    solution_id: SolutionId,
    request: Request,
    session: SessionDep,
    states: Annotated[bool, Query(description="Include the states along each cycle.")] = True,
    cycle: Annotated[int | None, Query(ge=0, description="A cycle's index, for .npy.")] = None,
    format: FormatQuery = "json",
    array: ArrayQuery = None,
) -> LimitCyclesOut | Response:
    found = stored_analysis(session, solution_id, "limit_cycles", stored_limit_cycles).result
    if wants_npy(request, format):
        if array in CYCLE_STATE_ARRAYS and cycle is None:
            raise Problem(422, "cycle-required", f"name the cycle whose {array} to send: cycle=")
        arrays = _cycle_arrays(found, cycle)
        return npy_response(arrays, array, f"solution-{solution_id}-limit-cycles")
    conditions, index = [], 0
    for entry in found:
        data = entry.to_dict(include_states=states)
        for cycle_data in data["cycles"]:
            cycle_data["index"], index = index, index + 1
        conditions.append(data)
    return LimitCyclesOut(
        solution_id=solution_id,
        conditions=conditions,
        arrays=sorted(CYCLE_ARRAYS + CYCLE_STATE_ARRAYS),
    )


@router.get(
    "/{solution_id}/extrapolation",
    response_model=ExtrapolationOut,
    summary="Extrapolation signature: behaviour beyond the training range",
    description=(
        "The task's probe arrays (for `reproduction`: `ts`, produced `tp`, early Go, and what "
        "happens long after Go; for `delayed` and `interval`: the decision map over the probe "
        "grid and the long-run behaviour) and summary scalars. As `.npy`: any array by name."
    ),
    responses=npy_responses("The signature as JSON, or one array as .npy."),
)
def read_extrapolation(
    solution_id: SolutionId,
    request: Request,
    session: SessionDep,
    format: FormatQuery = "json",
    array: ArrayQuery = None,
) -> ExtrapolationOut | Response:
    signature = stored_analysis(session, solution_id, "extrapolation", stored_signature).result
    if wants_npy(request, format):
        return npy_response(signature.arrays, array, f"solution-{solution_id}-extrapolation")
    return ExtrapolationOut(solution_id=solution_id, **signature.to_json())


@router.get(
    "/{solution_id}/graph",
    response_model=GraphOut,
    summary="The reduced-dynamics graph, compact and full, as node-link JSON",
    description=(
        "Nodes `{id, output}` (node 0 is the start state), edges `{source, target, "
        "edge_type}` (0 autonomous, else the input event's type as `/tasks` declares it). "
        "`full` is the graph before compaction. Its picture: `/solutions/{id}/plots/graph.svg`."
    ),
    responses={404: {"description": "No such solution, or its graph is not available."}},
)
def read_graph(solution_id: SolutionId, session: SessionDep) -> GraphOut:
    _, solution_type, record = stored_analysis(session, solution_id, "graph", reduced_graph)
    return GraphOut(
        solution_id=solution_id,
        solution_type=solution_type,
        canonical_hash=record.canonical_hash,
        nodes=record.n_nodes,
        edges=record.n_edges,
        compact=record.compact,
        full=record.full,
        links={"svg": f"/solutions/{solution_id}/plots/graph.svg"},
    )
