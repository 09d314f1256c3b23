"""Where one trajectory runs into another: closeness relative to speed, whole matrices at once.

Two trajectories a (n states) and b (m states) are compared along diagonals (a[i], b[i+k]):
b follows a with a time shift k. Entry (i, j) says how far the rest of the diagonal from
(i, j) on stays from a: the largest distance relative to the local speed,
2 |a_i - b_j| / (|a_i'| + |b_j'|), from there to the end. A point where the two are far apart
(more than 5 speeds) or move at speeds more than 10 times apart breaks the diagonal: nothing
before it on the diagonal can merge.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.spatial.distance import cdist

SAME_POINT = 1e-3
"""Distance below which two states are simply the same."""
FAR = 5.0
SPEED_RATIO_DECADES = 1.0
CLOSE = 1.0
"""Relative distance below which the rest of a diagonal counts as running together."""
BROKEN = np.inf


def speeds(states: np.ndarray) -> np.ndarray:
    """Distance to the next state (the last repeats the one before)."""
    step = np.linalg.norm(np.diff(states, axis=0), axis=1)
    return np.append(step, step[-1:]) if len(step) else np.zeros(len(states))


def diagonal_suffix_max(values: np.ndarray) -> np.ndarray:
    """Each entry replaced by the largest value from it to the end of its diagonal."""
    suffix = values.copy()
    for i in range(len(suffix) - 2, -1, -1):
        np.maximum(suffix[i, :-1], suffix[i + 1, 1:], out=suffix[i, :-1])
    return suffix


def relative_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The (n, m) matrix described in the module docstring (BROKEN where a diagonal broke)."""
    speed_a, speed_b = speeds(a), speeds(b)
    distance = cdist(a, b)
    same = distance <= SAME_POINT
    relative = np.where(same, 0.0, 2 * distance / (speed_a[:, None] + speed_b[None, :]))
    decades = np.abs(np.log10(speed_a + 1e-10)[:, None] - np.log10(speed_b + 1e-10)[None, :])
    breaks = ~same & ((relative > FAR) | (decades > SPEED_RATIO_DECADES))
    broken_later = np.zeros_like(breaks)
    broken_later[:-1, :-1] = diagonal_suffix_max(breaks)[1:, 1:]
    return np.where(broken_later, BROKEN, diagonal_suffix_max(relative))


def merge_point(matrix: np.ndarray) -> tuple[int, int] | None:
    """(row, column) where the two trajectories start to run together, or None.

    Each column votes for the diagonal of its closest row; votes stop at the first exact
    meeting. The diagonal with a clear majority wins (else the last vote), provided the votes
    are many, or one is very close, or the trajectories have about the same length.
    """
    if matrix.min() >= FAR:
        return None
    n, m = matrix.shape
    rows = matrix.argmin(axis=0)
    best = matrix[rows, np.arange(m)]
    voters = np.flatnonzero(best < CLOSE)
    if voters.size == 0:
        return None
    met = np.flatnonzero(np.minimum.accumulate(best[voters]) == 0)
    if met.size:
        voters = voters[: met[0] + 1]
    closest = best[voters].min()
    votes = (voters - rows[voters]).tolist()
    ranked = Counter(votes).most_common(2)
    if not (ranked[0][1] > 3 or closest < 0.01 or abs(n - m) < 5):
        return None
    clear = len(ranked) == 2 and ranked[0][1] > 2 * ranked[1][1]
    shift = ranked[0][0] if clear else votes[-1]
    start = int(np.flatnonzero(np.diagonal(matrix, shift) < CLOSE)[0])
    return (start, start + shift) if shift >= 0 else (start - shift, start)


def align_outputs(
    a_outputs: np.ndarray, b_outputs: np.ndarray, point: tuple[int, int], tolerance: float
) -> tuple[int, int] | None:
    """Move the merge point down its diagonal until the outputs agree to the end (or None)."""
    gap = diagonal_suffix_max(np.abs(a_outputs[:, None] - b_outputs[None, :]))
    i, j = point
    steps = min(gap.shape[0] - i, gap.shape[1] - j)
    along = gap[i + np.arange(steps), j + np.arange(steps)]
    agree = np.flatnonzero(along <= tolerance)
    if agree.size == 0:
        return None
    shift = int(agree[0])
    return i + shift, j + shift


def running_together(
    a_states: np.ndarray,
    a_outputs: np.ndarray,
    b_states: np.ndarray,
    b_outputs: np.ndarray,
    tolerance: float,
) -> tuple[int, int] | None:
    """Indices (in a, in b) from which b runs along a with the same outputs, or None."""
    point = merge_point(relative_distances(a_states, b_states))
    return None if point is None else align_outputs(a_outputs, b_outputs, point, tolerance)
