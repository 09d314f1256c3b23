"""`atlas regimes --weights FILE.npy`: the regimes of trained two-neuron networks, as JSON.

The file holds an array (n, 2, 2) of final W. Each network is run from x0 = (1, 0) to
T = 10 (RK4, the task's step): solved means loss < 1e-4. Prints one JSON object:
{"n", "solved", "regimes_solved": {"limit_cycle", "fixed_point", "stable_origin"},
"regimes_all": {...}}, the regimes read from W's eigenvalues (docs/science.md).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np

from atlas.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "regimes", help="regime counts of trained two-neuron networks (W array .npy), as JSON"
    )
    parser.add_argument("--weights", required=True, help=".npy file with an (n, 2, 2) array of W")
    parser.set_defaults(func=regimes)


def read_two_neuron_weights(path: str) -> np.ndarray:
    """An (n, 2, 2) float64 array of W from a .npy file (never unpickling); a (2, 2) array is
    one network. Anything else is a CommandError saying what is wrong."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"no such file: {path}")
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CommandError(
            f"{path} is not a plain numeric .npy array (pickled and object data are refused)"
        ) from exc
    if not isinstance(array, np.ndarray):
        array.close()
        raise CommandError(f"{path} is an .npz archive; expected one .npy array of shape (n, 2, 2)")
    shape = array.shape
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (2, 2) or len(array) == 0:
        raise CommandError(f"{path} holds an array of shape {shape}; expected (n, 2, 2)")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise CommandError(f"{path} holds {array.dtype} values; expected real numbers")
    if not np.isfinite(array).all():
        raise CommandError(f"{path} holds NaN or infinite values")
    return array.astype(np.float64)


def regimes(args: argparse.Namespace) -> int:
    from atlas.analysis.two_neuron_regimes import regime_summary

    print(json.dumps(regime_summary(read_two_neuron_weights(args.weights))))
    return 0
