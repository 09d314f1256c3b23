"""Solution types in the atlas: a network's compact graph assigned to its type on arrival, and
the type tables read back.

Types are per task variant (atlas.tasks.variants): a network joins the types of the parameter
set it was trained on, and its first network founds a variant's table.

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
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from atlas.analysis.graph import from_node_link, to_node_link
from atlas.analysis.solution_types import (
    COVERAGE_THRESHOLD,
    canonical_hash,
    coverage,
    same_type,
    type_name,
)
from atlas.errors import NotFoundError
from atlas.store.database import get_or_raise
from atlas.store.models import Network, SolutionType, TaskRecord
from atlas.store.task_records import resolve_task
from atlas.tasks import DEFAULT_VARIANT, variant_key


def lock_task(session: Session, task: str) -> None:
    """Hold the task's row (key-share) so that writers of its types and imports take turns."""
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
    lock_task(session, network.task)
    task = resolve_task(session, network.task, **network.task_parameters)
    variant = variant_key(task)
    graph_hash = canonical_hash(graph)
    bucket = session.scalars(
        select(SolutionType)
        .where(
            SolutionType.task == network.task,
            SolutionType.variant == variant,
            SolutionType.canonical_hash == graph_hash,
        )
        .order_by(SolutionType.id)
    ).all()
    match = next((t for t in bucket if same_type(graph, from_node_link(t.graph))), None)
    if match is None:
        taken = session.scalars(
            select(SolutionType.name).where(SolutionType.task == network.task)
        ).all()
        prefix = network.task if variant == DEFAULT_VARIANT else f"{network.task}.{variant}"
        match = SolutionType(
            task=network.task,
            variant=variant,
            task_parameters=task.parameters(),
            name=type_name(prefix, graph, taken),
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
    """The types of one task variant, largest first. `coverage`: the share of the variant's
    typed networks in types holding at least `threshold` of them."""

    task: str
    variant: str
    task_parameters: dict[str, Any]
    networks: int
    coverage: float
    threshold: float
    types: list[TypeSummary]


def _setting_counts(
    session: Session, *where: ColumnElement[bool]
) -> dict[int, dict[str, dict[int, int]]]:
    """Members of the types matching `where`, counted from the networks themselves, per type
    id as {architecture: {units: n}}."""
    counts = session.execute(
        select(Network.solution_type_id, Network.architecture, Network.units, func.count())
        .join(SolutionType, Network.solution_type_id == SolutionType.id)
        .where(*where)
        .group_by(Network.solution_type_id, Network.architecture, Network.units)
    ).all()
    nested: dict[int, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for type_id, architecture, units, count in counts:
        nested[type_id][architecture][units] = count
    return nested


def _size(per_setting: dict[str, dict[int, int]]) -> int:
    return sum(sum(per_units.values()) for per_units in per_setting.values())


def _summary(row: SolutionType, per_setting: dict[str, dict[int, int]], total: int) -> TypeSummary:
    """A type's summary from its members per setting; `total`: its variant's typed networks."""
    by_both = {a: dict(sorted(u.items())) for a, u in sorted(per_setting.items())}
    by_units: dict[int, int] = defaultdict(int)
    for per_units in by_both.values():
        for units, count in per_units.items():
            by_units[units] += count
    size = _size(per_setting)
    return TypeSummary(
        id=row.id,
        name=row.name,
        canonical_hash=row.canonical_hash,
        graph=row.graph,
        member_count=size,
        share=size / total if total else 0.0,
        by_architecture={a: sum(u.values()) for a, u in by_both.items()},
        by_units=dict(sorted(by_units.items())),
        by_architecture_units=by_both,
    )


def type_table(
    session: Session,
    task: str,
    variant: str = DEFAULT_VARIANT,
    threshold: float = COVERAGE_THRESHOLD,
) -> TypeTable:
    """Every type of a task variant with its counts (from the networks themselves), and the
    coverage."""
    in_variant = (SolutionType.task == task, SolutionType.variant == variant)
    types = session.scalars(select(SolutionType).where(*in_variant)).all()
    nested = _setting_counts(session, *in_variant)
    sizes = {t.id: _size(nested[t.id]) for t in types}
    total = sum(sizes.values())
    summaries = [_summary(t, nested[t.id], total) for t in types]
    summaries.sort(key=lambda s: (-s.member_count, s.name))
    parameters = types[0].task_parameters if types else resolve_task(session, task).parameters()
    return TypeTable(
        task=task,
        variant=variant,
        task_parameters=parameters,
        networks=total,
        coverage=coverage(list(sizes.values()), threshold),
        threshold=threshold,
        types=summaries,
    )


@dataclass(frozen=True)
class TypeFilters:
    """Which types an index of the whole atlas lists; None means any. `architecture` keeps the
    types with at least one member of that architecture (their counts stay whole)."""

    task: str | None = None
    variant: str | None = None
    architecture: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.task is not None:
            where.append(SolutionType.task == self.task)
        if self.variant is not None:
            where.append(SolutionType.variant == self.variant)
        if self.architecture is not None:
            built = select(Network.solution_type_id).where(
                Network.architecture == self.architecture
            )
            where.append(SolutionType.id.in_(built))
        return where


@dataclass(frozen=True)
class IndexedType:
    """A type as the atlas-wide index lists it: its task variant and its summary (its share is
    of its own variant's typed networks)."""

    task: str
    variant: str
    summary: TypeSummary


def _by_code_point(session: Session, column: ColumnElement[str]) -> ColumnElement[str]:
    """`column` compared code point by code point, as Python sorts strings (type_table): a
    PostgreSQL database's default collation may follow a locale, which skips punctuation."""
    return column.collate("C") if session.get_bind().dialect.name == "postgresql" else column


def type_index(
    session: Session,
    filters: TypeFilters,
    *,
    after: tuple[int, str, int] | None = None,
    limit: int = 50,
) -> list[IndexedType]:
    """Up to `limit` types of every task and variant matching `filters`, largest first (members
    counted from the networks, then name, as a task's type table orders them, then id), after
    the position `after` = (members, name, id) of the previous page's last type: keyset pages,
    so no page loads the whole atlas' types."""
    members = (
        select(Network.solution_type_id.label("type_id"), func.count().label("members"))
        .where(Network.solution_type_id.is_not(None))
        .group_by(Network.solution_type_id)
        .subquery()
    )
    size = func.coalesce(members.c.members, 0)
    query = (
        select(SolutionType)
        .outerjoin(members, members.c.type_id == SolutionType.id)
        .where(*filters.conditions())
    )
    name = _by_code_point(session, SolutionType.name)
    if after is not None:
        count, last_name, last_id = after
        later = or_(name > last_name, and_(name == last_name, SolutionType.id > last_id))
        query = query.where(or_(size < count, and_(size == count, later)))
    rows = session.scalars(query.order_by(size.desc(), name, SolutionType.id).limit(limit)).all()
    if not rows:
        return []
    nested = _setting_counts(session, SolutionType.id.in_([t.id for t in rows]))
    totals = {
        (task, variant): count
        for task, variant, count in session.execute(
            select(SolutionType.task, SolutionType.variant, func.count())
            .join(Network, Network.solution_type_id == SolutionType.id)
            .where(SolutionType.task.in_(sorted({t.task for t in rows})))
            .group_by(SolutionType.task, SolutionType.variant)
        )
    }
    return [
        IndexedType(
            t.task, t.variant, _summary(t, nested[t.id], totals.get((t.task, t.variant), 0))
        )
        for t in rows
    ]


@dataclass(frozen=True)
class VariantSummary:
    """A task variant that has types: its key, parameters, number of types and of typed
    networks."""

    variant: str
    task_parameters: dict[str, Any]
    types: int
    networks: int


def type_variants(session: Session, task: str) -> list[VariantSummary]:
    """The variants of `task` with types, the default first, then by size."""
    per_variant = (
        select(
            SolutionType.variant,
            func.min(SolutionType.id).label("first_id"),
            func.count().label("types"),
            func.sum(SolutionType.member_count).label("networks"),
        )
        .where(SolutionType.task == task)
        .group_by(SolutionType.variant)
        .subquery()
    )
    rows = session.execute(
        select(
            per_variant.c.variant,
            SolutionType.task_parameters,
            per_variant.c.types,
            per_variant.c.networks,
        ).join(SolutionType, SolutionType.id == per_variant.c.first_id)
    ).all()
    variants = [
        VariantSummary(variant, parameters, types, int(networks or 0))
        for variant, parameters, types, networks in rows
    ]
    return sorted(variants, key=lambda v: (v.variant != DEFAULT_VARIANT, -v.networks, v.variant))


def principal_variant(variants: list[VariantSummary]) -> str:
    """The variant a task's types are shown under when none is asked for: the task's own
    parameters where they have types, else the variant with the most typed networks (a demo
    or a study trained only on a shortened task still shows its types)."""
    return variants[0].variant if variants else DEFAULT_VARIANT


def chosen_variant(task: str, variants: list[VariantSummary], variant: str | None) -> str:
    """The variant of `task` a request means: `variant`, or principal_variant when None;
    NotFoundError (`variant-not-found`, listing the task's `variants`) for a variant without
    types (the default always answers, with no types)."""
    if variant is None:
        variant = principal_variant(variants)
    if variant != DEFAULT_VARIANT and variant not in {v.variant for v in variants}:
        raise NotFoundError(
            f"task {task!r} has no types under variant {variant!r}",
            slug="variant-not-found",
            variants=[v.variant for v in variants],
        )
    return variant


@dataclass(frozen=True)
class SolutionTypeRecord:
    """A solution type: its task variant, name and representative compact graph."""

    id: int
    task: str
    variant: str
    task_parameters: dict[str, Any]
    name: str
    graph: dict[str, Any]
    member_count: int

    @classmethod
    def of(cls, row: SolutionType) -> SolutionTypeRecord:
        return cls(
            row.id,
            row.task,
            row.variant,
            dict(row.task_parameters),
            row.name,
            row.graph,
            row.member_count,
        )


@dataclass(frozen=True)
class TypeMemberRecord:
    """A network of a type, as a member list shows it."""

    id: int
    architecture: str
    units: int
    source: str
    name: str | None
    validation_loss: float | None


def solution_type(session: Session, type_id: int) -> SolutionTypeRecord:
    """The type by id; NotFoundError (`type-not-found`) when there is none."""
    row = get_or_raise(session, SolutionType, type_id, "solution type", "type-not-found")
    return SolutionTypeRecord.of(row)


def solution_type_by_name(session: Session, task: str, name: str) -> SolutionTypeRecord | None:
    row = session.scalars(
        select(SolutionType).where(SolutionType.task == task, SolutionType.name == name)
    ).one_or_none()
    return None if row is None else SolutionTypeRecord.of(row)


def type_members(
    session: Session, type_id: int, *, after_id: int = 0, limit: int | None = None
) -> list[TypeMemberRecord]:
    """The networks of a type in id order (keyset pages: pass the last id seen as after_id)."""
    query = (
        select(
            Network.id,
            Network.architecture,
            Network.units,
            Network.source,
            Network.name,
            Network.validation_loss,
        )
        .where(Network.solution_type_id == type_id, Network.id > after_id)
        .order_by(Network.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [TypeMemberRecord(*row) for row in session.execute(query)]


def network_solution_type(session: Session, network_id: int) -> SolutionTypeRecord | None:
    """The network's type, None while it has none (not analysed yet, or not typed)."""
    row = session.scalars(
        select(SolutionType)
        .join(Network, Network.solution_type_id == SolutionType.id)
        .where(Network.id == network_id)
    ).one_or_none()
    return None if row is None else SolutionTypeRecord.of(row)
