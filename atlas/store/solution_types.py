"""Solution types in the atlas: a network's compact graph assigned to its type on arrival, and
the type tables read back.

Assignment is one critical section per task: the task's row is locked (PostgreSQL: SELECT ...
FOR NO KEY UPDATE, which still lets other transactions insert networks that reference the task;
SQLite: every write transaction already holds the database's write lock, see
atlas.store.database), then the hash bucket is searched, and a type is created only when no
graph in the bucket is isomorphic to the new one. Two workers assigning the same class at once
therefore meet one after the other, and the second finds the type the first created.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import networkx as nx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atlas.analysis.graph import from_node_link, to_node_link
from atlas.analysis.solution_types import (
    COVERAGE_THRESHOLD,
    canonical_hash,
    coverage,
    same_type,
    type_name,
)
from atlas.store.models import Network, SolutionType, TaskRecord


def _lock_task(session: Session, task: str) -> None:
    locked = session.scalars(
        select(TaskRecord.name).where(TaskRecord.name == task).with_for_update(key_share=True)
    ).one_or_none()
    if locked is None:
        raise LookupError(f"no task {task!r} in the atlas")


def _recount(session: Session, type_ids: set[int | None]) -> None:
    for type_id in type_ids - {None}:
        solution_type = session.get(SolutionType, type_id)
        solution_type.member_count = session.scalar(
            select(func.count()).where(Network.solution_type_id == type_id)
        )


def assign_solution_type(
    session: Session, network_id: int, compact: nx.DiGraph | dict[str, Any]
) -> SolutionType:
    """Give the network the type of its compact graph (node-link data or a graph), creating
    the type if its class is new to the task; member counts are recounted. Idempotent."""
    graph = compact if isinstance(compact, nx.DiGraph) else from_node_link(compact)
    network = session.get(Network, network_id)
    if network is None:
        raise LookupError(f"no network {network_id}")
    _lock_task(session, network.task)
    graph_hash = canonical_hash(graph)
    bucket = session.scalars(
        select(SolutionType)
        .where(SolutionType.task == network.task, SolutionType.canonical_hash == graph_hash)
        .order_by(SolutionType.id)
    ).all()
    match = next((t for t in bucket if same_type(graph, from_node_link(t.graph))), None)
    if match is None:
        taken = session.scalars(
            select(SolutionType.name).where(SolutionType.task == network.task)
        ).all()
        match = SolutionType(
            task=network.task,
            name=type_name(network.task, graph, taken),
            canonical_hash=graph_hash,
            graph=to_node_link(graph),
            member_count=0,
        )
        session.add(match)
        session.flush()
    previous = network.solution_type_id
    network.solution_type_id = match.id
    session.flush()
    _recount(session, {previous, match.id})
    session.flush()
    return match


def clear_solution_type(session: Session, network_id: int) -> None:
    """Take the network out of its type (it no longer qualifies); its type is recounted."""
    network = session.get(Network, network_id)
    if network is None or network.solution_type_id is None:
        return
    _lock_task(session, network.task)
    previous, network.solution_type_id = network.solution_type_id, None
    session.flush()
    _recount(session, {previous})
    session.flush()


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TypeSummary:
    """One type of a task: its row's fields, its share of the task's typed networks, and its
    members counted by architecture, by size, and by both ({architecture: {units: n}})."""

    id: int
    name: str
    canonical_hash: str
    graph: dict[str, Any]
    member_count: int
    share: float
    by_architecture: dict[str, int]
    by_units: dict[int, int]
    by_architecture_units: dict[str, dict[int, int]]


@dataclass(frozen=True)
class TypeTable:
    """The types of one task, largest first. `coverage`: the share of the task's typed
    networks in types holding at least `threshold` of them."""

    task: str
    networks: int
    coverage: float
    threshold: float
    types: list[TypeSummary]


def type_table(session: Session, task: str, threshold: float = COVERAGE_THRESHOLD) -> TypeTable:
    """Every type of `task` with its counts (from the networks themselves), and the coverage."""
    types = session.scalars(select(SolutionType).where(SolutionType.task == task)).all()
    counts = session.execute(
        select(Network.solution_type_id, Network.architecture, Network.units, func.count())
        .join(SolutionType, Network.solution_type_id == SolutionType.id)
        .where(SolutionType.task == task)
        .group_by(Network.solution_type_id, Network.architecture, Network.units)
    ).all()
    nested: dict[int, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for type_id, architecture, units, count in counts:
        nested[type_id][architecture][units] = count
    sizes = {t.id: sum(sum(u.values()) for u in nested[t.id].values()) for t in types}
    total = sum(sizes.values())
    summaries = []
    for t in types:
        by_both = {a: dict(sorted(u.items())) for a, u in sorted(nested[t.id].items())}
        by_units: dict[int, int] = defaultdict(int)
        for per_units in by_both.values():
            for units, count in per_units.items():
                by_units[units] += count
        summaries.append(
            TypeSummary(
                id=t.id,
                name=t.name,
                canonical_hash=t.canonical_hash,
                graph=t.graph,
                member_count=sizes[t.id],
                share=sizes[t.id] / total if total else 0.0,
                by_architecture={a: sum(u.values()) for a, u in by_both.items()},
                by_units=dict(sorted(by_units.items())),
                by_architecture_units=by_both,
            )
        )
    summaries.sort(key=lambda s: (-s.member_count, s.name))
    return TypeTable(
        task=task,
        networks=total,
        coverage=coverage(list(sizes.values()), threshold),
        threshold=threshold,
        types=summaries,
    )


def solution_type(session: Session, type_id: int) -> SolutionType | None:
    return session.get(SolutionType, type_id)


def solution_type_by_name(session: Session, task: str, name: str) -> SolutionType | None:
    return session.scalars(
        select(SolutionType).where(SolutionType.task == task, SolutionType.name == name)
    ).one_or_none()


def type_members(
    session: Session, type_id: int, *, after_id: int = 0, limit: int | None = None
) -> list[Network]:
    """The networks of a type in id order (keyset pages: pass the last id seen as after_id)."""
    query = (
        select(Network)
        .where(Network.solution_type_id == type_id, Network.id > after_id)
        .order_by(Network.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def network_solution_type(session: Session, network_id: int) -> SolutionType | None:
    """The network's type, None while it has none (not analysed yet, or not typed)."""
    return session.scalars(
        select(SolutionType)
        .join(Network, Network.solution_type_id == SolutionType.id)
        .where(Network.id == network_id)
    ).one_or_none()
