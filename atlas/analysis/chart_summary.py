"""A chart's result from its networks' type labels: shares per setting, rare types, coverage of
the largest types, and how well neural features predict the types (the paper's kappa).

The paper counts a type as rare when it holds fewer than 10 of the 400 networks of a task and
architecture, pooled over sizes (2.5%), and reports each size's shares against that pooled
table. So here rarity is decided over the whole chart (all its settings), and every setting's
shares, rare share and coverage are read against it: a type is the same type, with the same
colour and the same rarity, in every setting of the chart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from atlas.analysis.classifier import KappaResult, stratified_test_share, type_predictor_kappa
from atlas.analysis.solution_types import COVERAGE_THRESHOLD

TOP_K = 5
MAJOR_SHARE = 0.10
"""A type holding this share of a setting or more counts as a major type of it."""
KAPPA_SPLITS, KAPPA_TEST_SHARE, KAPPA_SEED = 50, 0.1, 0
KAPPA_MIN_MEMBERS = 2


@dataclass(frozen=True)
class TypeShare:
    """One type within a setting (or the whole chart): networks, share, rare over the chart."""

    name: str
    count: int
    share: float
    rare: bool


@dataclass(frozen=True)
class TypeBreakdown:
    """The types of a group of typed networks, largest first.

    `rare_share`: the share in the chart's rare types; `coverage`: the share in the others;
    `top_coverage[k-1]`: the share in the k largest types of this group (k = 1..TOP_K);
    `major_types`: how many types hold MAJOR_SHARE or more of it.
    """

    typed: int
    types: list[TypeShare]
    rare_share: float
    coverage: float
    top_coverage: list[float]
    major_types: int


def rare_types(labels: Sequence[Sequence[str]], threshold: float = COVERAGE_THRESHOLD) -> set[str]:
    """The types holding fewer than `threshold` of all typed networks of the chart (pooled)."""
    counts = Counter(label for group in labels for label in group)
    total = sum(counts.values())
    return {name for name, count in counts.items() if count < threshold * total}


def breakdown(labels: Sequence[str], rare: set[str], top_k: int = TOP_K) -> TypeBreakdown:
    """Counts and shares of the types in `labels` (one type name per typed network)."""
    counts = Counter(labels)
    total = len(labels)
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    types = [TypeShare(name, n, n / total, name in rare) for name, n in ordered]
    in_rare = sum(t.count for t in types if t.rare)
    cumulative = np.cumsum([t.count for t in types[:top_k]]) / total if total else np.zeros(0)
    return TypeBreakdown(
        typed=total,
        types=types,
        rare_share=in_rare / total if total else 0.0,
        coverage=(total - in_rare) / total if total else 0.0,
        top_coverage=[float(c) for c in cumulative],
        major_types=sum(t.share >= MAJOR_SHARE for t in types),
    )


@dataclass(frozen=True)
class KappaOutcome:
    """The predictor's kappa, or why there is none (too few networks or types)."""

    networks: int
    types: int
    kappa: KappaResult | None
    reason: str | None


def predictor_kappa(
    features: np.ndarray,
    labels: Sequence[str],
    rare: set[str],
    splits: int = KAPPA_SPLITS,
    seed: int = KAPPA_SEED,
) -> KappaOutcome:
    """Cohen's kappa of a random forest predicting the type from neural features, the paper's
    protocol (atlas.analysis.classifier): rare types left out, `splits` stratified splits
    holding out 10% (or one network per type where that is more). Rows with a non-finite
    feature are left out. `features` is (networks, features) in the order of `labels`."""
    features = np.asarray(features, dtype=float).reshape(len(labels), -1)
    names = np.asarray(labels, dtype=object)
    keep = np.isfinite(features).all(axis=1) & ~np.isin(names, list(rare))
    counts = Counter(names[keep].tolist())
    counted = {name for name, n in counts.items() if n >= KAPPA_MIN_MEMBERS}
    keep &= np.isin(names, list(counted))
    networks, types = int(keep.sum()), len(counted)
    if types < 2:
        reason = (
            f"needs two or more common types with {KAPPA_MIN_MEMBERS}+ networks that have "
            f"features; found {types}"
        )
        return KappaOutcome(networks, types, None, reason)
    codes = {name: i + 1 for i, name in enumerate(sorted(counted))}
    y = np.array([codes[name] for name in names[keep]])
    share = stratified_test_share(y, KAPPA_TEST_SHARE)
    if math.ceil(share * len(y)) > len(y) - types:
        return KappaOutcome(networks, types, None, "too few networks to hold some out per type")
    result = type_predictor_kappa(
        features[keep], y, splits, share, seed, min_members=KAPPA_MIN_MEMBERS
    )
    return KappaOutcome(networks, types, result, None)
