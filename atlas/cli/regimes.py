"""`atlas regimes --weights FILE.npy`: the regimes of trained two-neuron networks, as JSON.

The file holds an array (n, 2, 2) of final W. Each network is run from x0 = (1, 0) to
T = 10 (RK4, the task's step): solved means loss < 1e-4. Prints one JSON object:
{"n", "solved", "regimes_solved": {"limit_cycle", "fixed_point", "stable_origin"},
"regimes_all": {...}}, the regimes read from W's eigenvalues (docs/science.md).
"""

from __future__ import annotations

import argparse
import json

from atlas.cli.loading import read_two_neuron_weights


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "regimes", help="regime counts of trained two-neuron networks (W array .npy), as JSON"
    )
    parser.add_argument("--weights", required=True, help=".npy file with an (n, 2, 2) array of W")
    parser.set_defaults(func=regimes)


def regimes(args: argparse.Namespace) -> int:
    from atlas.analysis.two_neuron_regimes import regime_summary

    print(json.dumps(regime_summary(read_two_neuron_weights(args.weights))))
    return 0
