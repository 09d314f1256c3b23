"""Atlas datasets: a set of networks with their weights, training records, analyses and types
as files anyone reads with pandas and torch (JSON tables plus safetensors), and back.

This package knows the format only (layout, files, manifest, safe reading); the store turns
rows into datasets and datasets into rows (atlas.store.datasets). docs/datasets.md describes
the layout.

    dataset_files(description, tables, tensors, documents) -> {path: bytes}
    parse_dataset(files) -> Dataset            manifest and tables checked (DatasetError)
    read_files(folder | archive path | archive bytes, limits) -> {path: bytes}
    write_folder(folder, files); archive_bytes(files, top, kind="zip")
    network_key(task, parameters, architecture, final_weights) -> str   (content hash)
"""

from atlas.datasets.content import Dataset, dataset_files, network_key, parse_dataset
from atlas.datasets.files import (
    ARCHIVE_FORMATS,
    DatasetError,
    Limits,
    archive_bytes,
    read_files,
    write_folder,
)
from atlas.datasets.layout import FORMAT, TABLES, VERSION

__all__ = [
    "ARCHIVE_FORMATS",
    "FORMAT",
    "TABLES",
    "VERSION",
    "Dataset",
    "DatasetError",
    "Limits",
    "archive_bytes",
    "dataset_files",
    "network_key",
    "parse_dataset",
    "read_files",
    "write_folder",
]
