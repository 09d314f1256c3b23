"""Where a lace comes back to an earlier state, so that the graph closes a loop there.

Two regimes, as in the paper: a free run of hundreds of steps has entered a limit cycle when,
after its transient, the distance from each state to the later ones dips again and again at
one lag (`periodic_return`); a short in-trial epoch loops when, at the period its
autocorrelation suggests, every later visit stays close to a state relative to the speed
there (`early_return`). Both return (t, s): keep the first t states and join state t-1 to s.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.signal import find_peaks, peak_prominences
from scipy.spatial.distance import cdist

TRANSIENT = 100
"""Steps of a free run ignored before looking for its cycle."""
DIP_PROMINENCE = 0.1
MIN_REPEATS = 10
EPOCH_WINDOW = 200
PERIOD_PROMINENCE = 0.05


def first_prominent_peaks(rows: list[np.ndarray], prominence: float) -> np.ndarray:
    """Index of the first peak of each row with at least `prominence`, -1 where none: what
    `find_peaks(row, prominence=...)[0][0]` gives, for all rows at once.

    The rows are laid end to end with a separator above every value between them, which
    bounds each peak's prominence search to its own row exactly as if the row stood alone.
    Prominences are computed rank by rank (each row's first maximum, then its second, ...)
    and only for rows not yet resolved, so most rows cost one prominence.
    """
    if not rows:
        return np.zeros(0, dtype=int)
    lengths = np.array([len(r) for r in rows])
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    top = max((r.max() for r in rows if len(r)), default=0.0)
    signal = np.full(int(lengths.sum() + len(rows)), top + 1.0)
    for start, row in zip(starts, rows, strict=True):
        signal[start : start + len(row)] = row
    maxima, _ = find_peaks(signal)
    row_of = np.searchsorted(starts, maxima, side="right") - 1
    inside = maxima - starts[row_of] < lengths[row_of]
    maxima, row_of = maxima[inside], row_of[inside]
    rank = np.arange(len(maxima)) - np.searchsorted(row_of, row_of, side="left")
    first = np.full(len(rows), -1)
    for r in range(int(rank.max(initial=-1)) + 1):
        chosen = (rank == r) & (first[row_of] < 0)
        if not chosen.any():
            break
        tall = peak_prominences(signal, maxima[chosen])[0] >= prominence
        hit_rows = row_of[chosen][tall]
        first[hit_rows] = maxima[chosen][tall] - starts[hit_rows]
    return first


def periodic_return(states: np.ndarray) -> tuple[int, int] | None:
    """Close the limit cycle of a free run: the lag at which most tail states recur."""
    n = len(states)
    if n <= TRANSIENT:
        return None
    tail = states[TRANSIENT:]
    closeness = -cdist(tail, tail)
    rising = closeness[:, 1:-1] > closeness[:, :-2]
    falling = closeness[:, 1:-1] >= closeness[:, 2:]
    upper = np.triu(np.ones_like(rising), k=1)
    candidates = np.flatnonzero((rising & falling & upper).any(axis=1))
    lags = np.zeros(len(tail), dtype=int)
    found = first_prominent_peaks([closeness[i, i + 1 :] for i in candidates], DIP_PROMINENCE)
    lags[candidates] = found + 1
    shortest = 2 if n == 2 * TRANSIENT else 20
    common = [
        (lag, count)
        for lag, count in Counter(lags.tolist()).most_common(10)
        if lag > shortest and count > MIN_REPEATS
    ]
    if not common:
        return None
    lag, count = common[0]
    if len(tail) - lag <= 3 * count or (len(tail) > 400 and count > 30):
        first = TRANSIENT + int(np.flatnonzero(lags == lag)[0])
        return first + lag, first
    return None


def candidate_periods(states: np.ndarray) -> list[int]:
    """Periods suggested by the autocorrelation of the states' first principal component."""
    centred = states - states.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    component = u[:, 0] * s[0]
    n = len(component)
    corr = np.correlate(component, component, mode="full")[:n]
    if not corr.max() > 0:
        return []
    corr = np.clip(corr / corr.max(), 0, None)
    peaks, _ = find_peaks(corr, prominence=PERIOD_PROMINENCE)
    if peaks.size == 0:
        return []
    if peaks.size < 6:
        return [n - 1 - int(peaks[0])]
    spacings = np.bincount(np.hstack([np.diff(peaks), np.diff(peaks[::2])]))
    ranked = np.argsort(spacings)[-4:]
    return [int(p) for p in ranked[::-1] if spacings[p] > 1]


def early_return(states: np.ndarray) -> tuple[int, int] | None:
    """Close the loop of a short epoch whose later visits stay near an earlier state."""
    n = len(states)
    if n < 3:
        return None
    speed = np.linalg.norm(np.diff(states, axis=0), axis=1)
    speed = np.append(speed, speed[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_speed = np.log10(speed)
        distances = cdist(states, states)
        relative = 2 * distances / (speed[:, None] + speed[None, :])
        similar_speed = np.abs(log_speed[:, None] - log_speed[None, :]) < 1
    close = (distances < 1e-5) | ((distances < 1) & (relative < 1) & similar_speed)
    for period in candidate_periods(states):
        if period <= 0:
            continue
        for i in range(max(n - EPOCH_WINDOW, 0), n - period):
            if close[i, i + period :: period].all():
                return i + period, i
    return None
