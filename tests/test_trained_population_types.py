"""Populations trained by the recipes fall into several solution types (analysis level).

Each task trains its recipe (tests/trained_populations.py, one to two minutes of CPU), builds
the reduced graphs of the converged networks and groups them into types.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from trained_populations import RECIPES, train_recipe

from atlas.analysis.graph import build_graphs
from atlas.analysis.solution_types import assign_types
from atlas.networks import from_state_dicts

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("task_name", sorted(RECIPES))
def test_recipe_gives_a_dozen_solutions_of_several_types(task_name: str) -> None:
    task, populations = train_recipe(task_name)
    graphs = []
    for trained in populations:
        converged = trained.converged()
        if converged:
            networks = from_state_dicts([o.final_state_dict for o in converged])
            graphs += [reduced.compact for reduced in build_graphs(networks, task)]
    assert len(graphs) >= 12, [(o.status, o.best_loss) for p in populations for o in p.outcomes]

    # The graph's probes fit the shortened task: every solution's graph shows each answer.
    answers = set(np.unique(task.output_label(task.validation_set().targets.numpy())).tolist())
    for graph in graphs:
        assert {output for _, output in graph.nodes(data="output")} == answers

    sizes = Counter(assign_types(graphs))
    print(f"{task_name}: {len(graphs)} converged; type sizes {sorted(sizes.values())[::-1]}")
    assert len(sizes) >= 3, sizes
