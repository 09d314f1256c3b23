"""Solution types in the atlas, on SQLite and the real PostgreSQL: the paper's reduced graphs of
the reference networks assigned to types, relabelling, hash collisions, counts by architecture
and size, coverage, re-assignment, concurrent workers, and `atlas types`."""

from __future__ import annotations

import threading

import networkx as nx
import pytest
from sqlalchemy import select
from throwaway_databases import BACKENDS, database
from typed_atlas import SHORTENED_DELAYED, fill_with_types

from atlas.analysis.graph import from_node_link, to_node_link
from atlas.analysis.solution_types import assign_types, same_type, type_name
from atlas.cli import main as atlas_main
from atlas.networks import from_state_dicts
from atlas.store import (
    TypeFilters,
    TypeSummary,
    assign_solution_type,
    make_engine,
    migrate,
    network_solution_type,
    principal_variant,
    save_imported_network,
    session_factory,
    session_scope,
    type_index,
    type_members,
    type_table,
    type_variants,
)
from atlas.store.models import Network, SolutionType
from atlas.store.solution_types import solution_type_by_name
from atlas.tasks import DEFAULT_VARIANT, get_task, variant_key
from atlas.training.evaluation import population_mse

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", params=BACKENDS)
def atlas_db(request, tmp_path_factory):
    """A migrated database of each backend and its URL."""
    with database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        migrate(url)
        engine = make_engine(url)
        yield url, session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="module")
def losses(one_torch_thread, reference_networks) -> dict[str, float]:
    """Each reference network's validation loss, as an import records it."""
    return {
        r.name: float(
            population_mse(from_state_dicts([r.state_dict]), get_task(r.task).validation_set())[0]
        )
        for r in reference_networks
    }


def import_networks(sessions, references, losses) -> list[int]:
    with session_scope(sessions) as session:
        return [
            save_imported_network(
                session, get_task(r.task), r.state_dict, losses[r.name], name=r.name
            ).id
            for r in references
        ]


def relabelled(graph: nx.DiGraph, shift: int) -> nx.DiGraph:
    """The same graph with its nodes renumbered (the start state stays node 0)."""
    others = sorted(n for n in graph if n != 0)
    rotated = others[shift % len(others) :] + others[: shift % len(others)]
    return nx.relabel_nodes(graph, dict(zip(others, rotated, strict=True)) | {0: 0})


def ring_graph(lengths: list[int]) -> nx.DiGraph:
    """Autonomous rings of the given lengths, all nodes output 0, start on the first ring."""
    graph, first = nx.DiGraph(), 0
    for length in lengths:
        nodes = list(range(first, first + length))
        graph.add_nodes_from(nodes, output=0)
        graph.add_edges_from(
            ((u, v) for u, v in zip(nodes, nodes[1:] + nodes[:1], strict=True)), edge_type=0
        )
        first += length
    return graph


def test_the_papers_graphs_of_the_reference_networks_form_their_types(
    atlas_db, reference_networks, losses, capsys
):
    """The 12 `reproduction` references, each with the paper's own compact graph: the atlas
    holds one type per isomorphism class, counted by architecture and size; `atlas types`
    prints that table."""
    url, sessions = atlas_db
    references = [r for r in reference_networks if r.task == "reproduction"]
    graphs = [from_node_link(r.graph) for r in references]
    expected = assign_types(graphs)
    ids = import_networks(sessions, references, losses)
    for network_id, graph in zip(ids, graphs, strict=True):
        with session_scope(sessions) as session:
            assign_solution_type(session, network_id, to_node_link(graph))

    with session_scope(sessions) as session:
        table = type_table(session, "reproduction")
        assert table.networks == 12 and len(table.types) == len(set(expected)) == 8
        assert sum(t.member_count for t in table.types) == 12
        assigned = [network_solution_type(session, i) for i in ids]
        for k, a in enumerate(assigned):
            for m, b in enumerate(assigned):
                assert (a.id == b.id) == (expected[k] == expected[m])
            assert same_type(from_node_link(a.graph), graphs[k])
            assert a.name == type_name("reproduction", graphs[k])
        for summary in table.types:
            members = type_members(session, summary.id)
            assert summary.member_count == len(members)
            assert summary.by_architecture == {
                arch: sum(m.architecture == arch for m in members)
                for arch in sorted({m.architecture for m in members})
            }
            assert sum(summary.by_units.values()) == len(members)
            assert summary.share == pytest.approx(len(members) / 12)
        shared = {
            frozenset((m.architecture, m.units) for m in type_members(session, t.id))
            for t in table.types
            if t.member_count == 2
        }
        assert frozenset({("gru", 40), ("lstm", 20)}) in shared
        assert table.coverage == 1.0  # 2.5% of 12 networks: every type counts
        # Four types hold two networks each; at a 15% threshold only they count.
        assert type_table(session, "reproduction", threshold=0.15).coverage == pytest.approx(8 / 12)

    assert atlas_main(["types", "--task", "rsg", "--database-url", url]) == 0  # an alias
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(table.types) + 2
    for line, summary in zip(out[1:], table.types, strict=False):
        assert line.startswith(summary.name) and f" {summary.member_count} " in line
    assert out[-1] == (
        "12 typed networks of 'reproduction' (variant default) in 8 types; "
        "coverage 100.0% (8 types holding >= 2.5%)"
    )


def test_cli_rejects_unknown_tasks_and_old_schemas(atlas_db, tmp_path, capsys):
    url, _ = atlas_db
    assert atlas_main(["types", "--task", "nosuchtask", "--database-url", url]) == 2
    assert "unknown task 'nosuchtask'" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    assert atlas_main(["types", "--task", "delayed", "--database-url", missing]) == 2
    assert "no atlas database at" in capsys.readouterr().err
    (tmp_path / "empty.db").touch()  # a database with no schema
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    assert atlas_main(["types", "--task", "delayed", "--database-url", empty]) == 2
    assert "run `atlas migrate`" in capsys.readouterr().err


def test_the_same_graph_twice_relabelled_is_one_type_and_reassignment_recounts(
    atlas_db, reference_networks, losses
):
    _, sessions = atlas_db
    references = [r for r in reference_networks if r.task == "interval"]
    first, second, third, fourth = import_networks(sessions, references, losses)
    graph = from_node_link(references[0].graph)
    other = from_node_link(references[1].graph)
    assert not same_type(graph, other)
    with session_scope(sessions) as session:
        one = assign_solution_type(session, first, graph)
        again = assign_solution_type(session, second, relabelled(graph, 1))
        assert again.id == one.id
        assign_solution_type(session, second, relabelled(graph, 2))  # the same network again
    with session_scope(sessions) as session:
        assert session.get(SolutionType, one.id).member_count == 2
        assert [n.id for n in type_members(session, one.id)] == [first, second]
        moved = assign_solution_type(session, second, other)
        assert moved.id != one.id
    with session_scope(sessions) as session:
        assert session.get(SolutionType, one.id).member_count == 1
        assert session.get(SolutionType, moved.id).member_count == 1
        assert network_solution_type(session, second).id == moved.id
        assert network_solution_type(session, first).id == one.id
        for network_id in (third, fourth):
            assign_solution_type(session, network_id, graph)
        table = type_table(session, "interval")
        assert [(t.name, t.member_count) for t in table.types] == [
            (one.name, 3),
            (moved.name, 1),
        ]
        assert table.types[0].by_units == {20: 1, 40: 1, 50: 1}


def test_a_hash_collision_keeps_two_types_with_distinct_names(atlas_db, reference_networks, losses):
    _, sessions = atlas_db
    references = [r for r in reference_networks if r.task == "delayed"][:3]
    ids = import_networks(sessions, references, losses)
    one_ring, two_rings = ring_graph([16]), ring_graph([8, 8])
    with session_scope(sessions) as session:
        a = assign_solution_type(session, ids[0], one_ring)
        b = assign_solution_type(session, ids[1], two_rings)
        c = assign_solution_type(session, ids[2], relabelled(two_rings, 5))
        assert a.canonical_hash == b.canonical_hash and a.id != b.id and c.id == b.id
        assert b.name == f"{a.name}-2"
        assert solution_type_by_name(session, "delayed", b.name).id == b.id


def test_concurrent_workers_create_one_type_per_class(atlas_db, reference_networks, losses):
    """Eight workers assign at once, four graphs of each of two classes (the paper's graphs
    of two `delayed` references, relabelled): exactly two types, four members each."""
    url, sessions = atlas_db
    references = [r for r in reference_networks if r.task == "delayed"]
    classes = [from_node_link(references[0].graph), from_node_link(references[3].graph)]
    assert not same_type(*classes)
    ids = import_networks(sessions, references + references, losses)
    workers = 8
    barrier = threading.Barrier(workers)
    assigned: list[int] = []
    errors: list[BaseException] = []
    # One engine per worker: separate connections, as separate worker processes would have.
    engines = [make_engine(url) for _ in range(workers)]

    def work(k: int) -> None:
        try:
            graph = relabelled(classes[k % 2], k)
            with session_scope(session_factory(engines[k])) as session:
                barrier.wait(timeout=60)
                assigned.append(assign_solution_type(session, ids[k], graph).id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for engine in engines:
        engine.dispose()
    assert errors == []
    with session_scope(sessions) as session:
        types = {network_solution_type(session, i).id for i in ids}
        assert len(types) == 2 and set(assigned) == types
        for type_id in types:
            assert session.get(SolutionType, type_id).member_count == 4
            graph = from_node_link(session.get(SolutionType, type_id).graph)
            assert sum(same_type(graph, c) for c in classes) == 1
        # The collision test's types are of the same task: only these two hold the graphs.
        holding = [
            t
            for t in type_table(session, "delayed").types
            if any(same_type(from_node_link(t.graph), c) for c in classes)
        ]
        assert len(holding) == 2


@pytest.mark.parametrize("graph", [{"nodes": [{"id": 0}], "edges": []}, {"edges": []}])
def test_malformed_graphs_are_refused_before_anything_is_written(atlas_db, graph):
    _, sessions = atlas_db
    with session_scope(sessions) as session:
        before = session.query(SolutionType).count()
        network_id = session.query(Network.id).order_by(Network.id).first()[0]
        with pytest.raises(ValueError, match="not a node-link reduced graph"):
            assign_solution_type(session, network_id, graph)
        assert session.query(SolutionType).count() == before


def test_a_task_variant_has_its_own_types_table_and_names(
    atlas_db, reference_networks, losses, capsys
):
    """Networks filed under a shortened delayed task join types of that variant only: the same
    graph on default parameters is another type, the default table does not count them, and
    the variants are listed with their parameters (by `atlas types` too)."""
    url, sessions = atlas_db
    reference = next(r for r in reference_networks if r.task == "delayed")
    shortened = get_task("delayed", delay_max=2, trial_length=40)
    variant = variant_key(shortened)
    graph = to_node_link(from_node_link(reference.graph))
    with session_scope(sessions) as session:
        default_id = save_imported_network(
            session, get_task("delayed"), reference.state_dict, losses[reference.name]
        ).id
        variant_ids = [
            save_imported_network(session, shortened, reference.state_dict, 1e-5).id
            for _ in range(2)
        ]
    for network_id in [default_id, *variant_ids]:
        with session_scope(sessions) as session:
            assign_solution_type(session, network_id, graph)

    with session_scope(sessions) as session:
        default_type = network_solution_type(session, default_id)
        variant_type = network_solution_type(session, variant_ids[0])
        assert network_solution_type(session, variant_ids[1]).id == variant_type.id
        assert default_type.id != variant_type.id
        assert (default_type.variant, variant_type.variant) == (DEFAULT_VARIANT, variant)
        assert variant_type.name.startswith(f"delayed.{variant}-")
        assert variant_type.task_parameters == shortened.parameters()
        table = type_table(session, "delayed", variant)
        assert (table.networks, [t.member_count for t in table.types]) == (2, [2])
        assert table.task_parameters == shortened.parameters()
        assert variant_type.id not in {t.id for t in type_table(session, "delayed").types}
        listed = {v.variant: v for v in type_variants(session, "delayed")}
        assert next(iter(listed)) == DEFAULT_VARIANT
        assert listed[variant].networks == 2 and listed[variant].types == 1
        assert listed[variant].task_parameters == shortened.parameters()
        assert principal_variant(list(listed.values())) == DEFAULT_VARIANT
        assert principal_variant([listed[variant]]) == variant
        assert principal_variant([]) == DEFAULT_VARIANT

    assert (
        atlas_main(["types", "--task", "delayed", "--variant", variant, "--database-url", url]) == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(variant_type.name) and "  2  " in out[1]
    assert out[-2:] == ["other variants (--variant):", out[-1]]
    assert out[-1].startswith("  default: ")


def _listed(filters: TypeFilters, task: str, variant: str, summary: TypeSummary) -> bool:
    """Whether the index should list a type under `filters` (the test's own reading)."""
    return (
        filters.task in (None, task)
        and filters.variant in (None, variant)
        and (filters.architecture is None or filters.architecture in summary.by_architecture)
    )


def test_the_type_index_pages_every_type_of_the_atlas_largest_first(atlas_db, reference_networks):
    """Types of every task and variant (the shipped charts, the references under two variants
    of `delayed`): walked two at a time, the index's keyset pages hold each type once, by
    member count descending (then name, as each type table orders them, then id), with the
    summary its own variant's table gives; each filter keeps exactly the types it names."""
    _, sessions = atlas_db
    fill_with_types(sessions, reference_networks)
    with session_scope(sessions) as session:
        expected = {
            summary.id: (task, v.variant, summary)
            for task in session.scalars(select(SolutionType.task).distinct()).all()
            for v in type_variants(session, task)
            for summary in type_table(session, task, v.variant).types
        }
        order = sorted(
            expected, key=lambda i: (-expected[i][2].member_count, expected[i][2].name, i)
        )
        walked, after = [], None
        while page := type_index(session, TypeFilters(), after=after, limit=2):
            walked += page
            last = page[-1].summary
            after = (last.member_count, last.name, last.id)
        assert [t.summary.id for t in walked] == order
        assert {t.summary.id: (t.task, t.variant, t.summary) for t in walked} == expected
        assert expected[order[0]][2].member_count >= 21  # the charts' largest delayed type

        shortened = variant_key(get_task("delayed", **SHORTENED_DELAYED))
        for filters in (
            TypeFilters(task="reproduction"),
            TypeFilters(task="delayed", variant=shortened),
            TypeFilters(variant=DEFAULT_VARIANT),
            TypeFilters(architecture="lstm"),
            TypeFilters(task="reproduction", variant=DEFAULT_VARIANT, architecture="gru"),
        ):
            wanted = [i for i in order if _listed(filters, *expected[i])]
            assert 0 < len(wanted) < len(order), filters
            listed = type_index(session, filters, limit=len(order))
            assert [t.summary.id for t in listed] == wanted, filters
