"""Classifying a network against the atlas: a per-task type predictor fitted on the atlas' typed
networks, and the actual type found by matching a graph against the task's stored types.

The predictor is the paper's random forest (atlas.analysis.classifier) fitted on every network
of the task variant (its parameter set) that has both neural features and a type, over the
types with at least MIN_MEMBERS members. The paper counted types of 10+ of 400 networks; an
atlas grows from a few networks, so a type counts here from 2 members. Refitting per request
costs a fraction of a second at atlas sizes of a few thousand networks per task; scoring it
(50 forests) takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from sklearn.pipeline import Pipeline
from sqlalchemy.orm import Session

from atlas.analysis.classifier import (
    KappaResult,
    counted_types,
    forest,
    stratified_test_share,
    type_predictor_kappa,
)
from atlas.analysis.graph import from_node_link
from atlas.analysis.solution_types import canonical_hash, same_type
from atlas.errors import ConflictError
from atlas.store import TypeSummary, feature_table, type_table
from atlas.tasks import DEFAULT_VARIANT

MIN_MEMBERS = 2
SEED = 0
SPLITS, TEST_SHARE = 50, 0.1


@dataclass(frozen=True)
class TrainingData:
    """What a task variant's predictor learns from: the features (N, F) of the networks in
    counted types, their type ids (N,), the feature names, the counted types by id, and the
    networks' ids."""

    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    types: dict[int, TypeSummary]
    network_ids: list[int]


@dataclass(frozen=True)
class TaskPredictor:
    """A forest fitted on a task variant's training data."""

    model: Pipeline
    data: TrainingData

    def probabilities(self, features: np.ndarray) -> list[tuple[TypeSummary, float]]:
        """(type, probability) for every class, most probable first."""
        probabilities = self.model.predict_proba(features.reshape(1, -1))[0]
        ranked = sorted(
            zip(self.model.classes_, probabilities, strict=True), key=lambda pair: -pair[1]
        )
        return [(self.data.types[int(label)], float(p)) for label, p in ranked]


@dataclass(frozen=True)
class PredictorScore:
    """Cohen's kappa of a task variant's predictor over SPLITS stratified splits holding out
    `test_share` of the networks."""

    data: TrainingData
    test_share: float
    kappa: KappaResult


class NotEnoughTypedNetworksError(ConflictError):
    """Too few typed networks with neural features to fit a task's type predictor;
    `min_members` is how many a type needs to count."""

    slug = "not-enough-typed-networks"


def training_data(session: Session, task: str, variant: str = DEFAULT_VARIANT) -> TrainingData:
    """The typed networks of a task variant with finite neural features, in types of
    MIN_MEMBERS+ such networks; NotEnoughTypedNetworksError when fewer than two types qualify."""
    table = feature_table(session, task, variant=variant)
    types = {summary.name: summary for summary in type_table(session, task, variant).types}
    too_few = NotEnoughTypedNetworksError(
        f"task {task!r} (variant {variant}) needs at least two solution types with "
        f"{MIN_MEMBERS}+ networks that have neural features before types can be predicted",
        min_members=MIN_MEMBERS,
    )
    if table is None:
        raise too_few
    usable = [
        row
        for row, name in enumerate(table.type_names)
        if name is not None and np.isfinite(table.values[row]).all()
    ]
    labels = np.array([types[table.type_names[row]].id for row in usable], dtype=int)
    try:
        features, labels = counted_types(table.values[usable], labels, MIN_MEMBERS)
    except ValueError as exc:
        raise too_few from exc
    counted = set(labels.tolist())
    return TrainingData(
        features=features,
        labels=labels,
        feature_names=table.names,
        types={s.id: s for s in types.values() if s.id in counted},
        network_ids=[
            table.network_ids[row] for row in usable if types[table.type_names[row]].id in counted
        ],
    )


def fit_task_predictor(
    session: Session, task: str, variant: str = DEFAULT_VARIANT
) -> TaskPredictor:
    """The forest of a task variant, fitted on all its training data
    (NotEnoughTypedNetworksError: too few)."""
    data = training_data(session, task, variant)
    return TaskPredictor(forest(SEED).fit(data.features, data.labels), data)


def score_task_predictor(
    session: Session, task: str, variant: str = DEFAULT_VARIANT
) -> PredictorScore:
    """The paper's score of the predictor: Cohen's kappa over SPLITS stratified splits, each
    holding out TEST_SHARE of the networks, or one network per type where that is more (a
    small atlas); NotEnoughTypedNetworksError when too few networks are typed."""
    data = training_data(session, task, variant)
    share = stratified_test_share(data.labels, TEST_SHARE)
    kappa = type_predictor_kappa(
        data.features, data.labels, SPLITS, share, SEED, min_members=MIN_MEMBERS
    )
    return PredictorScore(data, share, kappa)


def matching_type(
    session: Session, task: str, compact: nx.DiGraph, variant: str = DEFAULT_VARIANT
) -> TypeSummary | None:
    """The stored type of a task variant whose graph is isomorphic to `compact`, if any."""
    graph_hash = canonical_hash(compact)
    for summary in type_table(session, task, variant).types:
        if summary.canonical_hash == graph_hash and same_type(
            compact, from_node_link(summary.graph)
        ):
            return summary
    return None
