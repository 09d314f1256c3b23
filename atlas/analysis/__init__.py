"""analysis"""

from atlas.analysis.classifier import (
    KappaResult,
    TypePredictor,
    fit_type_predictor,
    type_predictor_kappa,
)
from atlas.analysis.compare import (
    Comparison,
    SolutionSummary,
    compare_solutions,
    comparison_matrix,
    summaries_from_population,
)
from atlas.analysis.extrapolation import Signature, extrapolation_signature, signature_distance
from atlas.analysis.features import feature_names, neural_features

__all__ = [
    "Comparison",
    "KappaResult",
    "Signature",
    "SolutionSummary",
    "TypePredictor",
    "compare_solutions",
    "comparison_matrix",
    "extrapolation_signature",
    "feature_names",
    "fit_type_predictor",
    "neural_features",
    "signature_distance",
    "summaries_from_population",
    "type_predictor_kappa",
]

# Reduced-dynamics graphs and solution types.
from atlas.analysis.graph import (
    ReducedGraph,
    build_graph,
    build_graphs,
    from_node_link,
    to_node_link,
)
from atlas.analysis.solution_types import (
    assign_types,
    canonical_hash,
    coverage,
    same_type,
    type_name,
)

__all__ += [
    "ReducedGraph",
    "assign_types",
    "build_graph",
    "build_graphs",
    "canonical_hash",
    "coverage",
    "from_node_link",
    "same_type",
    "to_node_link",
    "type_name",
]
