"""Pictures as responses: PNG plots and SVG graphs, with their OpenAPI description."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from atlas.analysis.graph import from_node_link
from atlas.analysis.graph_plot import graph_svg
from atlas.tasks import TrialTask

PNG_MEDIA_TYPE = "image/png"
SVG_MEDIA_TYPE = "image/svg+xml"


def picture_responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {}}, "description": description},
        404: {"description": "No such resource, or the analysis it draws is not available."},
    }


def png_response(png: bytes) -> Response:
    return Response(png, media_type=PNG_MEDIA_TYPE)


def graph_picture(
    node_link: dict[str, Any], task: TrialTask, title: str, id_prefix: str = "g"
) -> str:
    """A compact graph as SVG text, its task's input-event names in the legend (`id_prefix`
    keeps the ids of several graphs inlined in one page apart)."""
    names = {event.edge_type: event.name for event in task.input_events().values()}
    return graph_svg(from_node_link(node_link), edge_names=names, title=title, id_prefix=id_prefix)


def graph_svg_response(node_link: dict[str, Any], task: TrialTask, title: str) -> Response:
    """A compact graph drawn with its task's input-event names in the legend."""
    return Response(graph_picture(node_link, task, title), media_type=SVG_MEDIA_TYPE)
