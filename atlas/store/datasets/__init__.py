"""Datasets in and out of the store: networks with weights, training records, analyses and
types exported as an atlas.datasets dataset, and such a dataset imported (checked, in the
caller's transaction, idempotent by each network's content key).

    selected_network_ids(session, filters: SolutionFilters) -> list[int]
    export_dataset(session, network_ids, *, title, selection, checkpoints=False,
                   jacobians=False, chart=None) -> {path: bytes}
    chart_export(session, chart_id) -> (network_ids, chart document) for export_dataset(chart=)
    import_dataset(session, dataset) -> ImportReport        raises DatasetError; re-creates
        the chart of a chart's dataset (report.chart_id)
"""

from atlas.store.datasets.analyses import DATASET_STEPS
from atlas.store.datasets.charts import chart_export
from atlas.store.datasets.export import export_dataset, selected_network_ids
from atlas.store.datasets.importer import ImportReport, import_dataset

__all__ = [
    "DATASET_STEPS",
    "ImportReport",
    "chart_export",
    "export_dataset",
    "import_dataset",
    "selected_network_ids",
]
