"""Reading two-neuron studies: regime counts (solved networks and all), both classifications,
and the regime maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas.errors import NotFoundError
from atlas.store.database import get_or_raise
from atlas.store.models import (
    DYNAMIC_REGIMES,
    TWO_NEURON_REGIMES,
    TwoNeuronMap,
    TwoNeuronNetwork,
    TwoNeuronStudyRow,
)
from atlas.store.work_status import WorkStatus


@dataclass(frozen=True)
class RegimeCounts:
    """Networks per regime among the solved ones and among all (unclassified ones left out)."""

    regimes_solved: dict[str, int]
    regimes_all: dict[str, int]


@dataclass(frozen=True)
class RegimeSummary:
    """A study's outcome: sizes, regimes by the eigenvalue rule and by the dynamics, the share
    of networks where both agree, and the regime maps (PNG bytes by name)."""

    study_id: int
    name: str | None
    status: str
    n: int
    solved: int
    eigenvalue_rule: RegimeCounts
    dynamics: RegimeCounts
    agreement: float | None
    maps: dict[str, bytes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, maps by name only (their bytes are served as PNG)."""
        return {
            "study_id": self.study_id,
            "name": self.name,
            "status": self.status,
            "n": self.n,
            "solved": self.solved,
            "eigenvalue_rule": vars(self.eigenvalue_rule),
            "dynamics": vars(self.dynamics),
            "agreement": self.agreement,
            "maps": sorted(self.maps),
        }

    def regime_map(self, name: str) -> bytes:
        """The PNG of the map named `name`; NotFoundError (`map-not-found`, listing the maps
        the study has as `available`) when it has none by that name."""
        if name not in self.maps:
            raise NotFoundError(
                f"study {self.study_id} has no regime map {name!r}; it has: "
                f"{', '.join(sorted(self.maps)) or 'none yet'}",
                slug="map-not-found",
                available=sorted(self.maps),
            )
        return self.maps[name]


def _counts(rows: list, labels: tuple[str, ...]) -> RegimeCounts:
    """RegimeCounts from (label, solved, count) rows."""
    solved = dict.fromkeys(labels, 0)
    everything = dict.fromkeys(labels, 0)
    for label, is_solved, count in rows:
        if label is None:
            continue
        everything[label] += count
        if is_solved:
            solved[label] += count
    return RegimeCounts(solved, everything)


def latest_study_id(session: Session) -> int | None:
    """The newest study that finished with networks classified, else the newest of any."""
    with_results = (WorkStatus.SUCCEEDED, WorkStatus.PARTIALLY_SUCCEEDED)
    finished = session.scalar(
        select(func.max(TwoNeuronStudyRow.id)).where(TwoNeuronStudyRow.status.in_(with_results))
    )
    return finished or session.scalar(select(func.max(TwoNeuronStudyRow.id)))


def two_neuron_regime_summary(session: Session, study_id: int | None = None) -> RegimeSummary:
    """The regime counts and maps of a study (default: the latest finished one);
    NotFoundError when there is no such study (or none at all)."""
    if study_id is None:
        study_id = latest_study_id(session)
        if study_id is None:
            raise NotFoundError("no two-neuron study in the atlas", slug="study-not-found")
    study = two_neuron_study(session, study_id)
    of_study = TwoNeuronNetwork.study_id == study.id

    def grouped(column) -> list:
        return session.execute(
            select(column, TwoNeuronNetwork.solved, func.count())
            .where(of_study)
            .group_by(column, TwoNeuronNetwork.solved)
        ).all()

    eigen_rows = grouped(TwoNeuronNetwork.regime)
    n = sum(count for _, _, count in eigen_rows)
    solved = sum(count for _, is_solved, count in eigen_rows if is_solved)
    classified_both = TwoNeuronNetwork.dynamic_regime.is_not(None) & of_study
    both = session.scalar(select(func.count()).where(classified_both)) or 0
    agree = session.scalar(
        select(func.count()).where(
            classified_both, TwoNeuronNetwork.regime == TwoNeuronNetwork.dynamic_regime
        )
    )
    maps = session.execute(
        select(TwoNeuronMap.name, TwoNeuronMap.png).where(TwoNeuronMap.study_id == study.id)
    ).all()
    return RegimeSummary(
        study_id=study.id,
        name=study.name,
        status=study.status,
        n=n,
        solved=solved,
        eigenvalue_rule=_counts(eigen_rows, TWO_NEURON_REGIMES),
        dynamics=_counts(grouped(TwoNeuronNetwork.dynamic_regime), DYNAMIC_REGIMES),
        agreement=agree / both if both else None,
        maps=dict(maps),
    )


def two_neuron_study(session: Session, study_id: int) -> TwoNeuronStudyRow:
    """The study row (status, progress, settings); NotFoundError when there is none."""
    return get_or_raise(session, TwoNeuronStudyRow, study_id, "study", "study-not-found")
