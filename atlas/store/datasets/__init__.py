"""Datasets in and out of the store: networks with weights, training records, analyses and
types exported as an atlas.datasets dataset, and such a dataset imported (checked, in the
caller's transaction, idempotent by each network's content key).

    selected_network_ids(session, filters: SolutionFilters) -> list[int]
    export_dataset(session, network_ids, *, title, selection, checkpoints=False,
                   jacobians=False, chart=None) -> {path: bytes}
    import_dataset(session, dataset) -> ImportReport        raises DatasetError
"""

from atlas.store.datasets.analyses import DATASET_STEPS
from atlas.store.datasets.export import export_dataset, selected_network_ids
from atlas.store.datasets.importer import ImportReport, import_dataset

__all__ = [
    "DATASET_STEPS",
    "ImportReport",
    "export_dataset",
    "import_dataset",
    "selected_network_ids",
]
