"""A dataset in memory (its description, tables and tensor files) to files and back.

`dataset_files` writes the tables as JSON (gzip where the layout says `.json.gz`, with a fixed
timestamp so the same content gives the same bytes), the tensors as safetensors, a README and
`dataset.json` with the manifest. `parse_dataset` checks the manifest first, then reads JSON
strictly (no NaN, capped decompression) and checks every table row against the layout;
tensor files are parsed on demand (`Dataset.tensors`), by the safetensors parser only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from atlas.datasets.files import DESCRIPTION_FILE, DatasetError, check_manifest, manifest
from atlas.datasets.layout import FORMAT, README_FILE, TABLES, TABLES_BY_NAME, VERSION, readme

Rows = list[dict[str, Any]]
_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}
MAX_JSON_BYTES = 256 * 2**20


@dataclass
class Dataset:
    """A dataset's description (`dataset.json` without its manifest), its tables by name and
    its files (the tensor files among them, read with `tensors`)."""

    description: dict[str, Any]
    tables: dict[str, Rows]
    files: Mapping[str, bytes] = field(repr=False)

    def tensors(self, path: str) -> dict[str, np.ndarray]:
        """The arrays of one safetensors file of the dataset."""
        if path not in self.files:
            raise DatasetError(f"{path} is missing from the dataset")
        try:
            return load_tensors(self.files[path])
        except (SafetensorError, ValueError, TypeError, OverflowError) as exc:
            raise DatasetError(f"{path} is not a readable safetensors file: {exc}") from exc

    def document(self, path: str) -> Any | None:
        """A JSON document of the dataset (chart.json), None when absent."""
        return parse_json(path, self.files[path]) if path in self.files else None


def network_key(
    task: str, parameters: Mapping[str, Any], architecture: str, weights: Mapping[str, Any]
) -> str:
    """The content hash that identifies a network across atlases: task, parameters,
    architecture and the final weights' names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    head = {"task": task, "task_parameters": parameters, "architecture": architecture}
    digest.update(json.dumps(head, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(weights):
        array = np.ascontiguousarray(np.asarray(weights[name]))
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def to_json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False, ensure_ascii=False, indent=None).encode()


def _encoded(path: str, value: Any) -> bytes:
    payload = to_json(value)
    if path.endswith(".gz"):
        return gzip.compress(payload, compresslevel=9, mtime=0)
    return payload


def dataset_files(
    description: dict[str, Any],
    tables: Mapping[str, Rows],
    tensors: Mapping[str, Mapping[str, np.ndarray]],
    documents: Mapping[str, Any] | None = None,
) -> dict[str, bytes]:
    """Every file of the dataset: tables (by layout name), tensor files (by path), JSON
    documents (by path), the README and dataset.json with the manifest of all the others."""
    files = {TABLES_BY_NAME[name].file: _encoded(TABLES_BY_NAME[name].file, rows)
             for name, rows in tables.items()}  # fmt: skip
    for path, arrays in tensors.items():
        files[path] = save_tensors({k: np.ascontiguousarray(arrays[k]) for k in sorted(arrays)})
    for path, document in (documents or {}).items():
        files[path] = to_json(document)
    files[README_FILE] = readme(description.get("title", "RNN Solution Atlas dataset")).encode()
    head = {"format": FORMAT, "version": VERSION, **description, "files": manifest(files)}
    files[DESCRIPTION_FILE] = json.dumps(head, allow_nan=False, indent=1).encode()
    return files


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(path: str, payload: bytes) -> Any:
    """Strict JSON (no NaN or Infinity) from a file, gunzipped (capped) when it ends in .gz."""
    try:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=io.BytesIO(payload)) as stream:
                payload = stream.read(MAX_JSON_BYTES + 1)
            if len(payload) > MAX_JSON_BYTES:
                raise DatasetError(f"{path} unpacks to more than {MAX_JSON_BYTES} bytes")
        return json.loads(payload, parse_constant=_refuse_constant)
    except (OSError, EOFError, zlib.error, ValueError, RecursionError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc


def _check_value(where: str, kind: str, value: Any) -> None:
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None:
        if not optional:
            raise DatasetError(f"{where} is null")
        return
    if kind == "any":
        return
    allowed = _KINDS[kind]
    if isinstance(value, bool) and bool not in allowed:
        raise DatasetError(f"{where} must be {kind}, not a boolean")
    if not isinstance(value, allowed):
        raise DatasetError(f"{where} must be {kind}, not {type(value).__name__}")
    if kind == "float" and not math.isfinite(value):
        raise DatasetError(f"{where} is not finite")


def check_rows(table_name: str, rows: Any) -> Rows:
    """The table's rows, each checked against its declared columns."""
    table = TABLES_BY_NAME[table_name]
    if not isinstance(rows, list):
        raise DatasetError(f"{table.file} must hold a list of rows")
    declared = {column.name for column in table.columns}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DatasetError(f"{table.file} row {i} is not an object")
        missing = sorted(declared - set(row))
        if missing:
            raise DatasetError(f"{table.file} row {i} lacks {missing}")
        extra = sorted(set(row) - declared)
        if extra and not table.open_columns:
            raise DatasetError(f"{table.file} row {i} has unknown columns {extra}")
        for column in table.columns:
            _check_value(
                f"{table.file} row {i} column {column.name!r}", column.kind, row[column.name]
            )
        for name in extra:
            _check_value(f"{table.file} row {i} column {name!r}", "float?", row[name])
    return rows


def parse_dataset(files: Mapping[str, bytes]) -> Dataset:
    """The dataset in `files` ({path: bytes}), its manifest and every table checked."""
    if DESCRIPTION_FILE not in files:
        raise DatasetError(f"no {DESCRIPTION_FILE}: not an atlas dataset")
    head = parse_json(DESCRIPTION_FILE, files[DESCRIPTION_FILE])
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        raise DatasetError(f"{DESCRIPTION_FILE} does not describe an {FORMAT}")
    if head.get("version") != VERSION:
        raise DatasetError(f"dataset version {head.get('version')!r}; this atlas reads {VERSION}")
    check_manifest(files, head.get("files"))
    tables = {
        table.name: check_rows(table.name, parse_json(table.file, files[table.file]))
        for table in TABLES
        if table.file in files
    }
    if "networks" not in tables:
        raise DatasetError("the dataset has no networks.json")
    description = {k: v for k, v in head.items() if k != "files"}
    return Dataset(description, tables, files)
