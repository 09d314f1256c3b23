"""Task declarations: trial sets, probes beyond training, graph input events, output labels."""

from atlas.tasks.base import InputEvent, ParameterError, Task, TrialSet, TrialTask
from atlas.tasks.registry import TASKS, UnknownTaskError, canonical_name, get_task
from atlas.tasks.two_neuron import TwoNeuron
from atlas.tasks.variants import DEFAULT_VARIANT, variant_key

__all__ = [
    "DEFAULT_VARIANT",
    "TASKS",
    "InputEvent",
    "ParameterError",
    "Task",
    "TrialSet",
    "TrialTask",
    "TwoNeuron",
    "UnknownTaskError",
    "canonical_name",
    "get_task",
    "variant_key",
]
