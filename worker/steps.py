"""The registry of analysis steps, run in this order on every network (trained or imported).

A step has four parts, so that no database transaction stays open while the science runs
(on SQLite an open write transaction would hold off every other writer):
- `skip(subject)`: why the step does not apply to this network (a `Subject`: its task and
  recorded loss), or None (a skipped step is recorded as such, with its reason, never as a
  failure);
- `load(session, subject)`: read the inputs through atlas.store (default: the task with the
  parameters the network was trained on, and its final weights, `NetworkInputs`);
- `run(inputs)`: the science, with no database at hand;
- `save(session, network_id, result)`: write the results through atlas.store, replacing the
  rows an earlier run of the step left, and return the JSON summary its run record keeps.
Later steps may load what earlier ones saved (solution_type reads the graph). Add a step by
appending it to STEPS.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import torch
from sqlalchemy.orm import Session

from atlas.analysis.extrapolation import Signature, extrapolation_signature, has_signature
from atlas.analysis.features import has_features, neural_features
from atlas.analysis.fixed_point_conditions import (
    FixedPointAnalysis,
    analyse_fixed_points,
    constant_inputs,
    sample_initial_states,
)
from atlas.analysis.graph import ReducedGraph, build_graph, from_node_link
from atlas.analysis.limit_cycles import find_limit_cycles
from atlas.network_status import no_solution_reason
from atlas.networks import RNNPopulation
from atlas.store import (
    ConditionCycles,
    assign_solution_type,
    get_solution,
    json_number,
    load_population,
    reduced_graph,
    resolve_task,
    save_extrapolation,
    save_features,
    save_fixed_points,
    save_limit_cycles,
    save_reduced_graph,
    save_validation_result,
)
from atlas.tasks import TrialTask
from atlas.tasks.checks import window_problems

# How far a recomputed validation loss may be from the recorded one (float32 vs float64,
# CPU vs GPU summation order) before the stored weights are deemed not to be the trained ones.
LOSS_RTOL, LOSS_ATOL = 1e-3, 1e-8
# Limit cycles: starting states drawn along the validation trajectories, and how long the
# autonomous runs last (the second half is searched for a cycle).
CYCLE_STARTS, CYCLE_STEPS = 16, 2000

Summary = dict[str, Any] | None


@dataclass(frozen=True)
class Subject:
    """The network an analysis step is about: its task as it was trained on it (a user's
    declared task read from the store) and the validation loss recorded then."""

    network_id: int
    task_name: str
    task: TrialTask
    validation_loss: float | None


def read_subject(session: Session, network_id: int) -> Subject:
    """NotFoundError when the network is gone."""
    record = get_solution(session, network_id)
    task = resolve_task(session, record.task, **record.task_parameters)
    return Subject(network_id, record.task, task, record.validation_loss)


@dataclass(frozen=True)
class NetworkInputs:
    """What most steps start from: the task as the network was trained on it, and its weights."""

    network_id: int
    task: TrialTask
    population: RNNPopulation
    validation_loss: float | None


def load_network(session: Session, subject: Subject) -> NetworkInputs:
    population = load_population(session, [subject.network_id])
    return NetworkInputs(subject.network_id, subject.task, population, subject.validation_loss)


def applies_to_every_network(subject: Subject) -> None:
    """Every network has a trial task, so a step that needs nothing more always runs."""


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Any], Any]
    save: Callable[[Session, int, Any], Summary]
    load: Callable[[Session, Subject], Any] = load_network
    skip: Callable[[Subject], str | None] = applies_to_every_network


# --------------------------------------------------------------------------- validation


class InconsistentNetworkError(RuntimeError):
    """Stored weights that do not reproduce the network's recorded numbers."""


@dataclass(frozen=True)
class Validation:
    loss: float
    trial_errors: np.ndarray
    conditions: dict[str, np.ndarray]


@torch.no_grad()
def validate(inputs: NetworkInputs) -> Validation:
    """The validation loss from the stored weights, per trial, checked against the loss
    recorded when the network was trained or imported."""
    trials = inputs.task.validation_set()
    outputs = inputs.population(trials.inputs).outputs[0]
    trial_errors = (outputs - trials.targets).pow(2).mean(dim=(1, 2)).double().numpy()
    loss = float(trial_errors.mean())
    recorded = inputs.validation_loss
    if recorded is not None and not math.isclose(
        loss, recorded, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL
    ):
        raise InconsistentNetworkError(
            f"stored weights give validation loss {loss:.6g}, the network recorded {recorded:.6g}"
        )
    return Validation(loss, trial_errors, trials.conditions)


def save_validation(session: Session, network_id: int, result: Validation) -> Summary:
    save_validation_result(session, network_id, result.loss, result.trial_errors, result.conditions)
    return {"loss": json_number(result.loss)}


# --------------------------------------------------------------------------- dynamics


def fixed_points(inputs: NetworkInputs) -> FixedPointAnalysis:
    """Fixed and slow points under zero input and each constant input level of the task."""
    (analysis,) = analyse_fixed_points(inputs.population, inputs.task)
    return analysis


def cycles(inputs: NetworkInputs) -> list[ConditionCycles]:
    """Limit cycles of long autonomous (zero-input) runs from states the network visits."""
    label, zero = constant_inputs(inputs.task)[0]
    starts = sample_initial_states(inputs.population, inputs.task, CYCLE_STARTS, seed=1)
    (found,) = find_limit_cycles(inputs.population, starts, zero, steps=CYCLE_STEPS)
    return [ConditionCycles(label, zero.tolist(), found)]


def signature(inputs: NetworkInputs) -> Signature:
    (result,) = extrapolation_signature(inputs.population, inputs.task)
    return result


def needs_signature(subject: Subject) -> str | None:
    if not has_signature(subject.task):
        return f"no extrapolation signature is declared for task {subject.task_name!r}"
    return None


# --------------------------------------------------------------------------- graph and type


def graph(inputs: NetworkInputs) -> ReducedGraph:
    return build_graph(inputs.population, inputs.task)


def needs_solution(subject: Subject) -> str | None:
    """The reduced graph describes how a solution solves its task (the paper reduces only
    networks that learned it): a network whose validation loss is not below SOLUTION_LOSS has
    no solution to reduce, whatever its training's status."""
    reason = no_solution_reason(subject.validation_loss)
    if reason is not None:
        return reason
    try:
        subject.task.graph_protocol()
    except NotImplementedError:
        return f"task {subject.task_name!r} declares no graph protocol"
    return None


def load_compact_graph(session: Session, subject: Subject) -> nx.DiGraph:
    stored = reduced_graph(session, subject.network_id)
    if stored is None:
        raise LookupError(f"network {subject.network_id} has no reduced graph to type")
    return from_node_link(stored.compact)


def typing_needs_no_computation(compact: nx.DiGraph) -> nx.DiGraph:
    """The type is found where the other types are, under the task's lock: in save_type."""
    return compact


def save_type(session: Session, network_id: int, compact: nx.DiGraph) -> Summary:
    assigned = assign_solution_type(session, network_id, compact)
    return {"type": assigned.name, "type_id": assigned.id}


# --------------------------------------------------------------------------- features


@dataclass(frozen=True)
class FeatureValues:
    names: tuple[str, ...]
    values: np.ndarray


def features(inputs: NetworkInputs) -> FeatureValues:
    names, values = neural_features(inputs.population, inputs.task)
    return FeatureValues(names, values[0])


def save_feature_values(session: Session, network_id: int, result: FeatureValues) -> Summary:
    return save_features(session, network_id, result.names, result.values)


def needs_feature_set(subject: Subject) -> str | None:
    if not has_features(subject.task):
        return f"no neural features are declared for task {subject.task_name!r}"
    problems = window_problems(subject.task)
    if problems:
        return f"the features are not defined on this variant of {subject.task_name!r}: " + (
            "; ".join(problems)
        )
    return None


STEPS: list[Step] = [
    Step("validation", validate, save_validation),
    Step("fixed_points", fixed_points, save_fixed_points),
    Step("limit_cycles", cycles, save_limit_cycles),
    Step("extrapolation", signature, save_extrapolation, skip=needs_signature),
    Step("graph", graph, save_reduced_graph, skip=needs_solution),
    Step(
        "solution_type",
        typing_needs_no_computation,
        save_type,
        load=load_compact_graph,
        skip=needs_solution,
    ),
    Step("features", features, save_feature_values, skip=needs_feature_set),
]
