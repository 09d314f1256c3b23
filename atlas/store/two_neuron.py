"""Writing two-neuron studies: the trained population, then each network's regime."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from atlas.store.arrays import to_blob
from atlas.store.models import TWO_NEURON_REGIMES, TwoNeuronNetwork, TwoNeuronStudy
from atlas.store.networks import CODE_VERSION
from atlas.tasks import TwoNeuron

if TYPE_CHECKING:
    from atlas.training.two_neuron import TwoNeuronOutcome, TwoNeuronTrainingConfig


def save_two_neuron_study(
    session: Session,
    task: TwoNeuron,
    config: TwoNeuronTrainingConfig,
    outcome: TwoNeuronOutcome,
    *,
    name: str | None = None,
) -> TwoNeuronStudy:
    """Store a trained two-neuron population with the config it was trained with."""
    count = len(outcome.seeds)
    study = TwoNeuronStudy(
        name=name,
        task_parameters=task.parameters(),
        training_config=dataclasses.asdict(config),
        count=count,
        code_version=CODE_VERSION,
    )
    session.add(study)
    session.flush()
    session.add_all(
        TwoNeuronNetwork(
            study_id=study.id,
            index_in_study=k,
            seed=int(outcome.seeds[k]),
            initial_w=to_blob(np.asarray(outcome.initial_w[k])),
            final_w=to_blob(np.asarray(outcome.final_w[k])),
            loss=float(outcome.loss[k]),
            solved=bool(outcome.solved[k]),
            loss_curve=to_blob(np.asarray(outcome.loss_curves[k])),
        )
        for k in range(count)
    )
    session.flush()
    return study


def set_two_neuron_regimes(session: Session, study_id: int, regimes: Sequence[str]) -> None:
    """Record each network's regime, in study order (an analysis result; re-setting replaces)."""
    networks = list(
        session.scalars(
            select(TwoNeuronNetwork)
            .where(TwoNeuronNetwork.study_id == study_id)
            .order_by(TwoNeuronNetwork.index_in_study)
        )
    )
    if len(regimes) != len(networks):
        raise ValueError(
            f"study {study_id} has {len(networks)} networks, got {len(regimes)} regimes"
        )
    unknown = sorted(set(regimes) - set(TWO_NEURON_REGIMES))
    if unknown:
        raise ValueError(f"unknown regimes {unknown}; known: {TWO_NEURON_REGIMES}")
    for network, regime in zip(networks, regimes, strict=True):
        network.regime = regime
    session.flush()
