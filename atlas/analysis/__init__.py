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

# Fixed and slow points, limit cycles, the two-neuron study.
from atlas.analysis.fixed_point_conditions import (  # noqa: E402
    ConditionPoints,
    FixedPointAnalysis,
    analyse_fixed_points,
    constant_inputs,
    sample_initial_states,
)
from atlas.analysis.fixed_point_search import FixedPointConfig  # noqa: E402
from atlas.analysis.fixed_points import (  # noqa: E402
    FixedPointSet,
    find_fixed_points,
    find_two_neuron_fixed_points,
)
from atlas.analysis.limit_cycles import (  # noqa: E402
    LimitCycle,
    find_limit_cycles,
    find_two_neuron_limit_cycles,
)
from atlas.analysis.two_neuron_regimes import (  # noqa: E402
    REGIMES,
    dynamic_regimes,
    eigenvalue_regimes,
    regime_summary,
)
from atlas.analysis.two_neuron_study import TwoNeuronStudy, run_two_neuron_study  # noqa: E402

__all__ += [
    "REGIMES",
    "ConditionPoints",
    "FixedPointAnalysis",
    "FixedPointConfig",
    "FixedPointSet",
    "LimitCycle",
    "TwoNeuronStudy",
    "analyse_fixed_points",
    "constant_inputs",
    "dynamic_regimes",
    "eigenvalue_regimes",
    "find_fixed_points",
    "find_limit_cycles",
    "find_two_neuron_fixed_points",
    "find_two_neuron_limit_cycles",
    "regime_summary",
    "run_two_neuron_study",
    "sample_initial_states",
]
