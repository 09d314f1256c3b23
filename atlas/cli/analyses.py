"""Analysing networks a command brought into the atlas (imported or adopted ones)."""

from __future__ import annotations

import time

from atlas.config import get_settings


def analyse_or_queue(network_ids: list[int], database_url: str | None) -> None:
    """Queue the analyses to the workers where a broker is configured; without one, run
    them in this process, one line of progress per network (an embedded `atlas serve` would
    also pick them up at start)."""
    from worker import dispatch, tasks
    from worker.database import bound_to

    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    if not settings.embedded:
        for network_id in network_ids:
            dispatch.enqueue_analysis(network_id, settings)
        print(f"queued the analysis of {len(network_ids)} networks")
        return
    print(f"analysing {len(network_ids)} networks here ...", flush=True)
    started = time.perf_counter()
    with bound_to(settings):
        for done, network_id in enumerate(network_ids, start=1):
            tasks.analyse_network(network_id)
            elapsed = time.perf_counter() - started
            left = elapsed / done * (len(network_ids) - done)
            print(f"  {done}/{len(network_ids)} analysed, {elapsed:.0f} s, ~{left:.0f} s to go",
                  flush=True)  # fmt: skip
