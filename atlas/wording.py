"""Words for counts in messages and logs: "1 network", never "1 networks"."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """`n` and `noun`, with an s unless `n` is 1: counted(1, "network") == "1 network"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
