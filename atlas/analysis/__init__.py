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
