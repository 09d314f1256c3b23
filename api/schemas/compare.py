"""What `/compare` returns: two solutions side by side, or every pair of a list as matrices."""

from __future__ import annotations

from pydantic import BaseModel, Field

from atlas.analysis.graph.edit_distance import EXACT_NODES

_VANILLA = {
    "id": 4,
    "task": "reproduction",
    "architecture": "vanilla",
    "units": 20,
    "solution_type": "reproduction-1a2b3c4d",
    "link": "/solutions/4",
}
_GRU = {**_VANILLA, "id": 9, "architecture": "gru", "units": 30, "link": "/solutions/9"}


class ComparedSolution(BaseModel):
    id: int
    task: str
    architecture: str
    units: int
    solution_type: str | None
    link: str


_VIEWS = (
    "`same_type` and `graph_edit_distance` need both reduced graphs, "
    "`fixed_point_difference` both fixed-point analyses, `signature_distance` both "
    "extrapolation signatures (null where one is missing); the geometric similarities are "
    "always computed, from the validation-set states."
)


class ComparisonOut(BaseModel):
    a: ComparedSolution
    b: ComparedSolution
    same_type: bool | None = Field(description="Compact graphs isomorphic (one solution type).")
    graph_edit_distance: float | None = Field(
        description="Unit-cost edit distance between the compact graphs; 0 within a type. "
        f"Exact when both graphs together have at most {EXACT_NODES} nodes, else a "
        "deterministic upper bound (the cost of the edit path from an optimal node "
        "assignment)."
    )
    fixed_point_difference: int | None = Field(
        description="L1 difference of the fixed-point counts by condition, kind, stability "
        "and output label."
    )
    fixed_point_counts: list[dict[str, int]] | None = Field(
        description="Those counts for a and b, keyed `condition/kind/stability/output label`."
    )
    signature_distance: float | None = Field(
        description="Extrapolation-signature distance in [0, 1]; 0 for identical behaviour."
    )
    procrustes_similarity: float = Field(
        description="1 - Procrustes disparity of the validation states on shared PCs."
    )
    cca_similarity: float = Field(description="Mean canonical correlation on the same PCs.")
    components: int = Field(description="Principal components both state sets were reduced to.")

    model_config = {
        "json_schema_extra": {
            "description": _VIEWS,
            "examples": [
                {
                    "a": _VANILLA,
                    "b": _GRU,
                    "same_type": True,
                    "graph_edit_distance": 0.0,
                    "fixed_point_difference": 1,
                    "fixed_point_counts": [
                        {"zero/fixed/stable/0": 1},
                        {"zero/fixed/stable/0": 1, "zero/fixed/unstable/0": 1},
                    ],
                    "signature_distance": 0.08,
                    "procrustes_similarity": 0.91,
                    "cca_similarity": 0.88,
                    "components": 10,
                }
            ],
        }
    }


class ComparisonMatrixOut(BaseModel):
    solutions: list[ComparedSolution] = Field(description="Rows and columns, in the order asked.")
    matrices: dict[str, list[list[float | None]]] = Field(
        description="One symmetric matrix per view (same_type as 1/0); null where a view is "
        "unavailable for a pair."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "solutions": [_VANILLA, _GRU],
                    "matrices": {
                        "same_type": [[1.0, 1.0], [1.0, 1.0]],
                        "procrustes_similarity": [[1.0, 0.7], [0.7, 1.0]],
                    },
                }
            ]
        }
    }
