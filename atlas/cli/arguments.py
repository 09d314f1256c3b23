"""Argument types shared by the commands: integers checked against the bounds the API holds its
requests to, so that a mistyped number is refused by argparse with one line naming the argument
instead of overflowing the database or an allocation. (No `register`: not a command itself.)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

#: Ids (jobs, charts, ...) and counts: a signed 32-bit SQL INTEGER, as the API bounds its ids.
MAX_ID = 2**31 - 1
#: A population's first seed, as the API bounds a job's and a chart's; seed + count stays
#: within what torch and numpy seed from, and within the store's chart seeds (2**31 - 1).
MAX_SEED = 2_000_000_000
#: Fixed-point starting states per input condition (the atlas' own analysis uses 64).
MAX_STARTS = 4096


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse `type` accepting integers in low..high; argparse names the argument."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in {low}..{high}, not {text}")
        return value

    return parse


record_id = bounded_int(1, MAX_ID)
positive_int = bounded_int(1, MAX_ID)
seed = bounded_int(0, MAX_SEED)
starts = bounded_int(1, MAX_STARTS)
