"""`/solutions/{id}/plots/...`: pictures of a solution's analyses (PNG plots, SVG graph)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep, SolutionId
from api.pictures import (
    PNG_MEDIA_TYPE,
    SVG_MEDIA_TYPE,
    graph_svg_response,
    picture_responses,
    png_response,
)
from api.problems import Problem
from api.solution_analyses import select_conditions, solution_states, stored_analysis
from atlas.analysis.extrapolation import Signature
from atlas.analysis.plots_extrapolation import decision_map_plot, tp_plot
from atlas.analysis.plots_trajectories import FixedPointGroup, trajectory_plot
from atlas.store import extrapolation_signature, fixed_point_analysis, reduced_graph, solution_task
from atlas.tasks import TrialTask

router = APIRouter(prefix="/solutions", tags=["plots"])
ALL_CONDITIONS = "all"


@router.get(
    "/{solution_id}/plots/trajectories.png",
    response_class=Response,
    summary="Validation-set state trajectories in their top PCA plane, fixed points marked",
    description=(
        "Every validation trial's state trajectory, one line per trial coloured by the trial's "
        "first variable (f1, t1 or ts), projected on the top two principal components of all "
        "of them (the axes give each one's share of the variance); the fixed points found "
        "under `condition` (default `zero`, the autonomous dynamics; `all` for every "
        "condition) on the same plane, one colour per condition, filled when stable, open "
        "when not. Slow points are not drawn."
    ),
    responses=picture_responses(PNG_MEDIA_TYPE, "A PNG image."),
)
def trajectories_png(
    solution_id: SolutionId,
    session: SessionDep,
    condition: Annotated[
        str, Query(description="Input condition of the fixed points drawn, or `all`.")
    ] = "zero",
) -> Response:
    network, _, analysis = stored_analysis(
        session, solution_id, "fixed_points", fixed_point_analysis
    )
    chosen = select_conditions(
        analysis.conditions, None if condition == ALL_CONDITIONS else condition
    )
    task = solution_task(session, network)
    states = solution_states(session, network, task)
    groups = [
        FixedPointGroup(c.label, c.points.states[c.points.fixed], c.points.stable[c.points.fixed])
        for c in chosen
    ]
    conditions = task.validation_set().conditions
    colour_by = next(iter(conditions.items()), None)
    return png_response(trajectory_plot(states, groups, colour_by))


SignaturePlot = Callable[[Signature, TrialTask], bytes]


def _signature_picture(
    name: str, array: str, other: str, plot: SignaturePlot, summary: str, description: str
) -> None:
    """Route `GET /solutions/{id}/plots/{name}`: `plot` of the stored extrapolation signature,
    for the tasks whose signature has `array` (else 404 naming `other`, the plot that fits)."""

    def picture(solution_id: SolutionId, session: SessionDep) -> Response:
        network, _, signature = stored_analysis(
            session, solution_id, "extrapolation", extrapolation_signature
        )
        if array not in signature.arrays:
            raise Problem(
                404,
                "plot-not-applicable",
                f"solution {solution_id} solves {network.task!r}, whose signature has no "
                f"{array}; see /solutions/{solution_id}/plots/{other}",
            )
        return png_response(plot(signature, solution_task(session, network)))

    router.add_api_route(
        f"/{{solution_id}}/plots/{name}",
        picture,
        methods=["GET"],
        name=name.replace(".", "_"),
        response_class=Response,
        summary=summary,
        description=description,
        responses=picture_responses(PNG_MEDIA_TYPE, "A PNG image."),
    )


_signature_picture(
    "tp.png",
    "tp",
    "decisions.png",
    tp_plot,
    "Produced interval tp against ts, the training range shaded (reproduction)",
    "From the extrapolation signature: tp(ts) over the wide probe range, the identity line, "
    "the training range shaded, probes without a Go marked. `reproduction` only; the "
    "discrimination tasks have `decisions.png`.",
)
_signature_picture(
    "decisions.png",
    "decision_map",
    "tp.png",
    decision_map_plot,
    "Decision map over the probe grid, the training square outlined (discrimination)",
    "From the extrapolation signature: the sign of the answer for every probed pair of values, "
    "inside and beyond the training range. `delayed` and `interval` only; `reproduction` has "
    "`tp.png`.",
)


@router.get(
    "/{solution_id}/plots/graph.svg",
    response_class=Response,
    summary="The compact reduced-dynamics graph as a picture",
    description=(
        "Nodes coloured by output label, edges by input type (named as the task's input "
        "events), the start state ringed."
    ),
    responses=picture_responses(SVG_MEDIA_TYPE, "An SVG image."),
)
def graph_svg_picture(solution_id: SolutionId, session: SessionDep) -> Response:
    network, solution_type, record = stored_analysis(session, solution_id, "graph", reduced_graph)
    title = f"solution {solution_id}" + (f" ({solution_type})" if solution_type else "")
    return graph_svg_response(record.compact, solution_task(session, network), title)
