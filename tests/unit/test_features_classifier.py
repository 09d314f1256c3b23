"""Neural features of the reference networks, and the type classifier on the paper's matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from atlas.analysis.classifier import (
    fit_type_predictor,
    stratified_test_share,
    type_predictor_kappa,
)
from atlas.analysis.features import DELAYED_FEATURES, EPOCH_FEATURES, neural_features
from atlas.networks import from_state_dicts, to_state_dict
from atlas.networks.permutation import permute_hidden_units
from atlas.tasks import get_task

PAPER_KAPPAS = {
    "delayed_vanilla": 0.44,
    "interval_vanilla": 0.45,
    "reproduction_vanilla": 0.37,
    "reproduction_gru": 0.60,
    "reproduction_lstm": 0.53,
}
ROW_OF_SIZE = {20: 0, 30: 100, 40: 200, 50: 300}  # the paper's rows: 4 sizes x 100 instances


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def paper_matrix(paper_features_dir, setting: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(paper_features_dir / f"{setting}.npz", allow_pickle=False)
    return data["features"], data["labels"]


@pytest.fixture(scope="module")
def reference_features(reference_networks):
    """Features of every reference network (float32 weights, as loaded)."""
    out = {}
    for net in reference_networks:
        population = from_state_dicts([net.state_dict])
        names, values = neural_features(population, get_task(net.task))
        out[net.name] = (net, names, values)
    return out


@pytest.mark.parametrize("setting", sorted(PAPER_KAPPAS))
def test_classifier_reproduces_paper_kappa(paper_features_dir, setting):
    features, labels = paper_matrix(paper_features_dir, setting)
    result = type_predictor_kappa(features, labels, n_splits=50, test_size=0.1, seed=0, n_jobs=2)
    paper = PAPER_KAPPAS[setting]
    print(f"{setting}: kappa {result.mean:.3f} +/- {result.std:.3f} (paper {paper})")
    assert len(result.per_split) == 50
    assert abs(result.mean - paper) <= 0.05


def test_reference_features_have_paper_shape_and_are_finite(reference_features):
    for net, names, values in reference_features.values():
        expected = DELAYED_FEATURES if net.task == "delayed" else EPOCH_FEATURES
        assert names == expected
        assert values.shape == (1, len(expected))
        assert np.isfinite(values).all(), (net.name, dict(zip(names, values[0], strict=True)))


def test_reproduction_features_equal_the_papers_rows(reference_features, paper_features_dir):
    """The reference networks are instance i100 of each size: the paper's rows 0/100/200/300."""
    for net, _, values in reference_features.values():
        if net.task != "reproduction":
            continue
        paper, _ = paper_matrix(paper_features_dir, f"reproduction_{net.architecture}")
        row = paper[ROW_OF_SIZE[net.units]]
        np.testing.assert_allclose(values[0], row, rtol=2e-3, atol=2e-4, err_msg=net.name)


def test_delayed_end_speed_is_the_papers_last_column(reference_features, paper_features_dir):
    paper, _ = paper_matrix(paper_features_dir, "delayed_vanilla")
    for net, names, values in reference_features.values():
        if net.task == "delayed":
            end = values[0][names.index("speed_end")]
            assert end == pytest.approx(paper[ROW_OF_SIZE[net.units], -1], rel=2e-3)


def with_permuted_copy(state_dict, units: int, seed: int = 1):
    """A population of two: the network and the same network with its units relabelled."""
    permutation = torch.randperm(units, generator=torch.Generator().manual_seed(seed)).tolist()
    permuted = permute_hidden_units(from_state_dicts([state_dict]), permutation)
    return from_state_dicts([state_dict, to_state_dict(permuted, 0)])


@pytest.mark.parametrize("name", ["delayed_vanilla_30_i100", "reproduction_lstm_20_i100"])
def test_features_ignore_the_order_of_hidden_units(reference_networks, name):
    net = next(n for n in reference_networks if n.name == name)
    _, values = neural_features(with_permuted_copy(net.state_dict, net.units), get_task(net.task))
    np.testing.assert_allclose(values[0], values[1], rtol=1e-5, atol=1e-8)


def test_type_predictor_probabilities_and_json_round_trip(paper_features_dir):
    features, labels = paper_matrix(paper_features_dir, "reproduction_gru")
    predictor = fit_type_predictor(features, labels, seed=3)
    classes, probabilities = predictor.predict_proba(features[:25])
    assert list(classes) == sorted(set(labels) - {0})
    assert probabilities.shape == (25, len(classes))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)

    restored = type(predictor).from_json(json.loads(json.dumps(predictor.to_json())))
    np.testing.assert_array_equal(restored.predict_proba(features[:25])[1], probabilities)

    counted = labels != 0
    agreement = np.mean(predictor.predict(features[counted]) == labels[counted])
    assert agreement > 0.9  # a forest fits its own training networks


def test_type_predictor_rejects_bad_features(paper_features_dir):
    features, labels = paper_matrix(paper_features_dir, "interval_vanilla")
    predictor = fit_type_predictor(features, labels)
    with pytest.raises(ValueError, match="expected 11 features"):
        predictor.predict_proba(features[:3, :5])
    broken = features[:3].copy()
    broken[0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predictor.predict_proba(broken)
    with pytest.raises(ValueError, match="two types"):
        type_predictor_kappa(features, np.zeros(len(labels), dtype=int))


def test_stratified_test_share_holds_one_network_of_every_type():
    paper_sized = np.repeat([1, 2, 3, 4], 100)
    assert stratified_test_share(paper_sized) == 0.1
    small_atlas = np.array([1] * 9 + [2] * 9 + [3] * 2)
    assert stratified_test_share(small_atlas) == pytest.approx(0.15)
    assert stratified_test_share(np.array([5, 5, 7, 7])) == 0.5
