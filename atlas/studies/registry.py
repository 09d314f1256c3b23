"""Study models by short name or alias, kept apart from the tasks (atlas.tasks.TASKS).

A study model is what a study trains and classifies a population of: the two-neuron model of
science.md. It has no trials, so it is no task: jobs, charts, imports and the analysis steps
never see it, and its names are reserved so that no declared task takes them.
"""

from __future__ import annotations

from typing import Any

from atlas.errors import NotFoundError
from atlas.studies.two_neuron import TwoNeuronModel

STUDY_MODELS: dict[str, TwoNeuronModel] = {TwoNeuronModel.name: TwoNeuronModel()}
_ALIASES: dict[str, str] = {
    alias: model.name for model in STUDY_MODELS.values() for alias in model.aliases
}


class UnknownStudyError(NotFoundError, KeyError):
    """No study model by that name (`args[0]`)."""

    slug = "unknown-study-model"

    def __str__(self) -> str:
        return f"unknown study model {self.args[0]!r}; known: {', '.join(STUDY_MODELS)}"


def study_name(name: str) -> str | None:
    """The short name for a study model's short name or alias; None for any other name."""
    key = name.strip().lower()
    return key if key in STUDY_MODELS else _ALIASES.get(key)


def get_study_model(name: str, **overrides: Any) -> TwoNeuronModel:
    """A study model with its default parameters, or with the given overrides applied
    (ParameterError for bad ones); UnknownStudyError for a name that is none's."""
    short = study_name(name)
    if short is None:
        raise UnknownStudyError(name)
    model = STUDY_MODELS[short]
    return model.with_overrides(**overrides) if overrides else model
