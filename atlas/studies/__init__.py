"""Study models: what a study (not a job) trains and classifies; today the two-neuron model."""

from atlas.studies.registry import (
    STUDY_MODELS,
    UnknownStudyError,
    get_study_model,
    study_name,
)
from atlas.studies.two_neuron import TwoNeuronModel

__all__ = [
    "STUDY_MODELS",
    "TwoNeuronModel",
    "UnknownStudyError",
    "get_study_model",
    "study_name",
]
