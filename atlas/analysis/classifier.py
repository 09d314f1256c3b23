"""Predicting a network's solution type from its neural features: the paper's protocol.

A random forest of 100 trees on standardised features, scored by Cohen's kappa over 50
stratified 90/10 splits, on the types with at least 10 members (label 0, "a type too small to
count", is dropped). On the paper's own feature matrices this gives its kappas.

A fitted predictor is stored without pickle: `TypePredictor.to_json()` keeps the training
features, labels and seed, and `from_json` refits. Every tree's randomness comes from the seed,
so the refitted forest is the same forest and predicts the same probabilities; refitting 100
trees on a few hundred networks takes well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

TREES = 100
MIN_MEMBERS = 10
UNCOUNTED = 0


@dataclass(frozen=True)
class KappaResult:
    """Cohen's kappa of held-out predictions: mean and std over splits, and each split's."""

    mean: float
    std: float
    per_split: np.ndarray


def counted_types(
    features: np.ndarray, labels: np.ndarray, min_members: int = MIN_MEMBERS
) -> tuple[np.ndarray, np.ndarray]:
    """The networks of types with at least `min_members` members, label 0 excluded."""
    features, labels = np.asarray(features, dtype=float), np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(
            f"features must be (networks, features) and labels (networks,); got "
            f"{features.shape} and {labels.shape}"
        )
    if not np.isfinite(features).all():
        raise ValueError("features hold NaN or infinite values; measure them again or drop them")
    kinds, counts = np.unique(labels, return_counts=True)
    kept = kinds[(counts >= min_members) & (kinds != UNCOUNTED)]
    mask = np.isin(labels, kept)
    if len(kept) < 2:
        raise ValueError(f"need at least two types with {min_members}+ members; found {len(kept)}")
    return features[mask], labels[mask]


def forest(seed: int, n_jobs: int = 1) -> Pipeline:
    return make_pipeline(
        StandardScaler(), RandomForestClassifier(TREES, random_state=seed, n_jobs=n_jobs)
    )


def stratified_test_share(labels: np.ndarray, share: float = 0.1) -> float:
    """`share`, or the smallest larger share that holds one network of every type: a stratified
    split needs as many test networks as types (a small atlas has few networks per type)."""
    labels = np.asarray(labels)
    return max(share, len(np.unique(labels)) / len(labels))


def type_predictor_kappa(
    features: np.ndarray,
    labels: np.ndarray,
    n_splits: int = 50,
    test_size: float = 0.1,
    seed: int = 0,
    n_jobs: int = 1,
    min_members: int = MIN_MEMBERS,
) -> KappaResult:
    """Cohen's kappa of the type predictor over stratified shuffle splits (the paper's protocol).

    The scaler is fitted on each training split only; a forest's splits do not depend on a
    per-feature affine map, so this matches the paper's scaling of the whole matrix.
    """
    x, y = counted_types(features, labels, min_members)
    splits = StratifiedShuffleSplit(n_splits=n_splits, test_size=test_size, random_state=seed)
    kappas = []
    for i, (train, test) in enumerate(splits.split(x, y)):
        model = forest(seed + i, n_jobs).fit(x[train], y[train])
        kappas.append(cohen_kappa_score(y[test], model.predict(x[test])))
    per_split = np.array(kappas)
    return KappaResult(float(per_split.mean()), float(per_split.std()), per_split)


@dataclass
class TypePredictor:
    """A forest fitted on the networks of counted types; serialised as its training data."""

    features: np.ndarray
    labels: np.ndarray
    seed: int = 0
    model: Pipeline = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.features, self.labels = counted_types(self.features, self.labels)
        self.model = forest(self.seed).fit(self.features, self.labels)

    @property
    def classes(self) -> np.ndarray:
        return self.model.classes_

    def predict_proba(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The type labels and, per network (N, F), the probability of each, (N, types)."""
        features = np.atleast_2d(np.asarray(features, dtype=float))
        if features.shape[1] != self.features.shape[1]:
            raise ValueError(
                f"expected {self.features.shape[1]} features per network, got {features.shape[1]}"
            )
        if not np.isfinite(features).all():
            raise ValueError("features hold NaN or infinite values")
        return self.classes, self.model.predict_proba(features)

    def predict(self, features: np.ndarray) -> np.ndarray:
        classes, probabilities = self.predict_proba(features)
        return classes[probabilities.argmax(axis=1)]

    def to_json(self) -> dict[str, Any]:
        return {
            "features": self.features.tolist(),
            "labels": self.labels.tolist(),
            "seed": self.seed,
            "trees": TREES,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TypePredictor:
        """Refit from stored training data: the same seed gives the same forest."""
        if data.get("trees", TREES) != TREES:
            raise ValueError(f"stored predictor used {data['trees']} trees; this code fits {TREES}")
        return cls(np.array(data["features"], dtype=float), np.array(data["labels"]), data["seed"])


def fit_type_predictor(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> TypePredictor:
    """A type predictor fitted on all networks of counted types."""
    return TypePredictor(np.asarray(features, dtype=float), np.asarray(labels), seed)
