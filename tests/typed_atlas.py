"""An atlas holding real solution types of several tasks, variants and architectures, for the
tests that read types across the atlas. A test helper, not a test.

- The shipped charts (charts/*.zip: 120 `delayed` vanilla networks of 20 and 30 units, with
  their analyses) imported as a newcomer's atlas imports them: their types are the atlas' own.
- The paper's reference networks with the paper's own compact graphs: the `reproduction`
  ones (vanilla, GRU, LSTM) and `interval` ones under the tasks' own parameters, the `delayed`
  ones filed under a shortened task, a second variant of `delayed`. Each is stored with its
  validation loss on the task it is filed under, as an import records it.
"""

from __future__ import annotations

from conftest import ROOT, ReferenceNetwork
from sqlalchemy.orm import Session, sessionmaker

from atlas.datasets import parse_dataset, read_files
from atlas.networks import from_state_dicts
from atlas.store import assign_solution_type, import_dataset, save_imported_network, session_scope
from atlas.tasks import get_task
from atlas.training.evaluation import population_mse

SHIPPED_CHARTS = sorted((ROOT / "charts").glob("*.zip"))
#: The parameters the `delayed` references are filed under: another variant of the task.
SHORTENED_DELAYED = {"delay_max": 3, "trial_length": 40}


def fill_with_types(sessions: sessionmaker[Session], references: list[ReferenceNetwork]) -> None:
    """Import the shipped charts and the references, each reference typed by its paper graph."""
    for path in SHIPPED_CHARTS:
        with session_scope(sessions) as session:
            import_dataset(session, parse_dataset(read_files(path)))
    for reference in references:
        parameters = SHORTENED_DELAYED if reference.task == "delayed" else {}
        task = get_task(reference.task, **parameters)
        population = from_state_dicts([reference.state_dict])
        loss = float(population_mse(population, task.validation_set())[0])
        with session_scope(sessions) as session:
            network = save_imported_network(
                session, task, reference.state_dict, loss, name=reference.name
            )
            assign_solution_type(session, network.id, reference.graph)
