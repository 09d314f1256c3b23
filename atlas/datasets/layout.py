"""The dataset layout, declared once: its tables, their columns and types, its tensor files.

The writer, the reader's checks and the README inside every dataset are all derived from these
declarations (docs/datasets.md explains them at length), so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from atlas.analysis_status import ANALYSIS_STATUSES, FINISHED_RUNS
from atlas.network_status import STATUSES

FORMAT = "rnn-atlas-dataset"
VERSION = 1
README_FILE = "README.md"
CHART_FILE = "chart.json"
NETWORKS_FOLDER = "networks"
#: Per network, under networks/<id>/ (safetensors; weights float32 with the rnn./fc. keys).
INITIAL_WEIGHTS, FINAL_WEIGHTS = "initial.safetensors", "final.safetensors"
CHECKPOINTS_FOLDER = "checkpoints"
TRAINING_FILE, ANALYSES_FILE = "training.safetensors", "analyses.safetensors"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # str, int, float, bool, list, dict, any; a trailing ? allows null
    about: str


@dataclass(frozen=True)
class Table:
    name: str
    file: str
    about: str
    columns: tuple[Column, ...]
    open_columns: bool = False  # further columns allowed (the features table: one per feature)


def _c(name: str, kind: str, about: str) -> Column:
    return Column(name, kind, about)


def _one_of(values: Sequence[str]) -> str:
    """ "a, b or c": the values a status column holds, from their one definition."""
    return f"{', '.join(values[:-1])} or {values[-1]}"


NETWORK = _c("network", "str", "the network's id in this dataset (its folder under networks/)")
TABLES: tuple[Table, ...] = (
    Table(
        "networks",
        "networks.json",
        "one row per network: what it was trained on, how training went, its type",
        (
            _c("network", "str", "id in this dataset, e.g. n0001: weights in networks/<id>/"),
            _c("key", "str", "SHA-256 of task, parameters, architecture and final weights"),
            _c("task", "str", "task name (delayed, interval, reproduction)"),
            _c("task_parameters", "dict", "the task parameters it was trained on"),
            _c("variant", "str", "the task variant: default, or p + 8 hex digits"),
            _c("architecture", "str", "vanilla, gru or lstm"),
            _c("units", "int", "hidden units"),
            _c("n_inputs", "int", "input channels"),
            _c("n_outputs", "int", "outputs"),
            _c("source", "str", "trained or imported, in the atlas it came from"),
            _c("name", "str?", "a label, if one was given"),
            _c("seed", "int?", "initialisation and minibatch seed"),
            _c("status", "str", _one_of(STATUSES)),
            _c("epochs", "int?", "epochs trained"),
            _c("steps", "int?", "optimiser steps"),
            _c("best_loss", "float?", "best epoch loss (training config epoch_loss)"),
            _c("final_loss", "float?", "epoch loss of the last epoch"),
            _c("validation_loss", "float?", "validation MSE of the final weights"),
            _c("analysis_status", "str", _one_of(ANALYSIS_STATUSES)),
            _c("solution_type", "str?", "the type's name (types.json), null when untyped"),
            _c("code_version", "str", "atlas version that trained or imported it"),
            _c("origin", "dict", "where it came from: atlas network id, job, index in job"),
            _c("info", "dict", "free-form information kept with the network"),
            _c("checkpoints", "list", "[{kind, epoch, loss, file}]: its weight files"),
        ),
    ),
    Table(
        "types",
        "types.json",
        "one row per solution type of the networks (per task variant)",
        (
            _c("name", "str", "the type's name"),
            _c("task", "str", "task name"),
            _c("variant", "str", "task variant"),
            _c("task_parameters", "dict", "the variant's parameters"),
            _c("canonical_hash", "str", "hash of the compact graph's isomorphism class"),
            _c("graph", "dict", "the compact graph, node-link JSON"),
            _c("members", "int", "networks of this dataset in the type"),
        ),
    ),
    Table(
        "analysis_runs",
        "analysis_runs.json.gz",
        "one row per network and analysis step",
        (
            NETWORK,
            _c("step", "str", "validation, fixed_points, limit_cycles, extrapolation, graph, ..."),
            _c("status", "str", _one_of(FINISHED_RUNS)),
            _c("attempts", "int", "how often it ran"),
            _c("duration_s", "float?", "compute seconds"),
            _c("summary", "dict?", "what the step reported (a skipped step: its reason)"),
            _c("error", "str?", "a failed step's error"),
        ),
    ),
    Table(
        "validation",
        "validation.json",
        "one row per network: the validation loss recomputed from the stored weights",
        (
            NETWORK,
            _c("loss", "float", "validation MSE; per-trial errors in analyses.safetensors"),
        ),
    ),
    Table(
        "fixed_points",
        "fixed_points.json.gz",
        "one row per fixed or slow point (arrays in analyses.safetensors, row `index`)",
        (
            NETWORK,
            _c("index", "int", "row in the network's fixed_points.* tensors"),
            _c("condition", "str", "constant-input condition (zero, f1=4, ...)"),
            _c("inputs", "list", "the constant input"),
            _c("kind", "str", "fixed or slow"),
            _c("q", "float", "0.5 ||F(h) - h||^2 at the point"),
            _c("stable", "bool", "every |eigenvalue| < 1"),
        ),
    ),
    Table(
        "limit_cycles",
        "limit_cycles.json",
        "one row per limit cycle (one period of states in analyses.safetensors)",
        (
            NETWORK,
            _c("index", "int", "i in limit_cycles.<i>.states / .outputs"),
            _c("condition", "str", "input condition of the autonomous run"),
            _c("inputs", "list", "the constant input"),
            _c("period", "float", "period in steps"),
            _c("diameter", "float", "the orbit's diameter"),
            _c("closing_error", "float", "distance after one period"),
        ),
    ),
    Table(
        "extrapolation",
        "extrapolation.json",
        "one row per network: the extrapolation signature's scalars (arrays in "
        "analyses.safetensors as extrapolation.*)",
        (NETWORK, _c("summary", "dict", "scalars by name; null where undefined")),
    ),
    Table(
        "graphs",
        "graphs.json.gz",
        "one row per network: its reduced-dynamics graph, compact and full, node-link JSON",
        (
            NETWORK,
            _c(
                "compact",
                "dict",
                "compact graph: nodes {id, output}, edges {source, target, edge_type}",
            ),
            _c("full", "dict", "the graph before compaction"),
            _c("canonical_hash", "str", "hash of the compact graph's isomorphism class"),
            _c("n_nodes", "int", "compact nodes"),
            _c("n_edges", "int", "compact edges"),
        ),
    ),
    Table(
        "features",
        "features.json",
        "one row per network: its neural features, one column each in the paper's order",
        (NETWORK,),
        open_columns=True,
    ),
)
TABLES_BY_NAME = {table.name: table for table in TABLES}

TENSOR_FILES = (
    (INITIAL_WEIGHTS, "initial weights: a state dict with the rnn./fc. keys, float32"),
    (FINAL_WEIGHTS, "final weights, the same keys"),
    (f"{CHECKPOINTS_FOLDER}/epoch_<E>.safetensors", "intermediate weights (optional)"),
    (TRAINING_FILE, "loss_curve: the training loss per epoch, float64"),
    (
        ANALYSES_FILE,
        "validation.trial_errors, validation.conditions.<name>; fixed_points.states (P, S), "
        ".outputs (P, O), .eigenvalues (P, S, 2: real, imaginary), .jacobians (P, S, S, "
        "optional); limit_cycles.<i>.states, .outputs; extrapolation.<name>",
    ),
)


def readme(title: str) -> str:
    """The README.md every dataset carries: its layout, from the declarations above."""
    lines = [
        f"# {title}",
        "",
        f"An RNN Solution Atlas dataset ({FORMAT} version {VERSION}). Everything is JSON",
        "(`.json.gz`: gzip-compressed) or safetensors; `dataset.json` describes the selection",
        "and lists every file with its SHA-256. Read it with pandas and torch alone:",
        "",
        "```python",
        "import pandas as pd",
        "from safetensors.torch import load_file",
        'networks = pd.read_json("networks.json")',
        'weights = load_file("networks/n0001/final.safetensors")  # rnn./fc. state dict',
        "```",
        "",
        "## Tables",
    ]
    for table in TABLES:
        lines += ["", f"### `{table.file}`: {table.about}", ""]
        lines += [f"- `{c.name}` ({c.kind}): {c.about}" for c in table.columns]
        if table.open_columns:
            lines.append("- one further column per feature")
    lines += ["", "## Tensor files, under `networks/<network>/`", ""]
    lines += [f"- `{name}`: {about}" for name, about in TENSOR_FILES]
    lines += ["", f"`{CHART_FILE}` (a chart's export only): the chart's definition and counts.", ""]
    return "\n".join(lines)
