"""Batched training of network populations by the paper's recipe, and of two-neuron networks."""

from atlas.network_status import NetworkStatus
from atlas.training.batched import train_population
from atlas.training.config import TrainingConfig
from atlas.training.outcome import Checkpoint, NetworkOutcome, TrainingProgress
from atlas.training.two_neuron import TwoNeuronOutcome, TwoNeuronTrainingConfig, train_two_neuron

__all__ = [
    "Checkpoint",
    "NetworkOutcome",
    "NetworkStatus",
    "TrainingConfig",
    "TrainingProgress",
    "TwoNeuronOutcome",
    "TwoNeuronTrainingConfig",
    "train_population",
    "train_two_neuron",
]
