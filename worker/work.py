"""What running work watches for and reports, whatever its kind (job, study, chart chunk).

`Watch.check()` is called between minibatches (or training steps) and raises `Stopped` when
the work must stop: the runner shuts down, a client asked to cancel (its row reads
`cancelling`; polled at most every CANCEL_POLL_S), or the per-job time limit is reached.
`Pace` turns training progress into the share of the work done and an expected end.
`finished_or_stopped` runs a task body and records how it ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from atlas.store import StopReason, WorkStatus
from atlas.training import TrainingProgress
from worker.database import current_settings, transaction

logger = logging.getLogger("atlas.worker")

CANCEL_POLL_S = 1.0
"""How often a running task reads its row for a cancel: one small query a second."""


class Stopped(Exception):
    """The work must stop before its end, for `reason`."""

    def __init__(self, reason: StopReason, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


WorkStatusReader = Callable[[Session, int], WorkStatus | None]


class Watch:
    """The stop conditions of one attempt at work item `work_id`, whose stored status
    `status_of` reads (atlas.store.job_status, study_status)."""

    def __init__(
        self,
        status_of: WorkStatusReader,
        work_id: int,
        shutting_down: Callable[[], bool] | None,
        seconds_before: float,
    ):
        self.status_of, self.work_id = status_of, work_id
        self.shutting_down = shutting_down or (lambda: False)
        self.time_limit_s = current_settings().job_time_limit_s
        self.seconds_before = seconds_before
        self.started = time.monotonic()
        self.polled = -float("inf")

    def run_seconds(self) -> float:
        """Seconds run over all attempts, this one included."""
        return self.seconds_before + time.monotonic() - self.started

    def check(self) -> None:
        if self.shutting_down():
            raise Stopped(StopReason.SHUTDOWN, "the runner is shutting down")
        if self.time_limit_s is not None and self.run_seconds() >= self.time_limit_s:
            raise Stopped(
                StopReason.TIME_LIMIT, f"stopped at the time limit of {self.time_limit_s:g} s"
            )
        now = time.monotonic()
        if now - self.polled < CANCEL_POLL_S:
            return
        self.polled = now
        with transaction() as session:
            status = self.status_of(session, self.work_id)
        if status in (WorkStatus.CANCELLING, WorkStatus.CANCELLED, None):
            raise Stopped(StopReason.CANCEL, "cancelled on request")


class Pace:
    """Share of a work item's networks done, counting each network still training by its
    epochs over max_epochs (an upper bound on what is left: networks often converge early),
    and the end expected at this attempt's pace."""

    def __init__(self, count: int, watch: Watch):
        self.count, self.watch = count, watch
        self.first: tuple[float, float] | None = None

    def __call__(self, progress: TrainingProgress) -> tuple[float, datetime | None, float]:
        """(fraction, expected end or None, seconds run) for the record_progress writers."""
        max_epochs = max(progress.max_epochs, 1)
        remaining = progress.active * (1 - min(progress.epoch, max_epochs) / max_epochs)
        fraction = min(1.0, max(0.0, (self.count - remaining) / self.count))
        now = time.monotonic()
        if self.first is None:
            self.first = (now, fraction)
        since, start_fraction = now - self.first[0], self.first[1]
        eta = None
        if fraction > start_fraction and since > 0:
            rate = (fraction - start_fraction) / since
            eta = datetime.now(UTC) + timedelta(seconds=(1 - fraction) / rate)
        return fraction, eta, self.watch.run_seconds()


PROGRESS_INTERVAL_S = 2.0

Record = Callable[[Session, TrainingProgress, tuple[float, datetime | None, float]], None]


def progress_writer(
    record: Record, watch: Watch, pace: Pace, what: str, unit: str = "epoch"
) -> Callable[[TrainingProgress], None]:
    """After each epoch (or step: `unit`, as the log says it; a two-neuron study takes steps):
    check the watch, then write progress and pace (`record` in a transaction) at most every
    PROGRESS_INTERVAL_S and when the last network finishes."""
    last = -float("inf")

    def write(progress: TrainingProgress) -> None:
        nonlocal last
        watch.check()
        now = time.monotonic()
        if now - last < PROGRESS_INTERVAL_S and progress.active:
            return
        last = now
        with transaction() as session:
            record(session, progress, pace(progress))
        logger.info(
            "%s: %s %d/%d, %d active, %d converged, %d failed",
            what, unit, progress.epoch, progress.max_epochs,
            progress.active, progress.converged, progress.failed,
        )  # fmt: skip

    return write


class Ending:
    """How a task body ended: `reason` is None when it ran to its end."""

    reason: StopReason | None = None


@contextmanager
def finished_or_stopped(
    what: str,
    stop: Callable[[Session, Stopped], None],
    fail: Callable[[Session, str], None],
) -> Iterator[Ending]:
    """The body of a queued task, its end recorded: stopped (Stopped) -> `stop` records it
    (queued again, cancelled or at the time limit) and the Ending says why; an error -> `fail`
    marks the work failed with it, and it propagates."""
    ending = Ending()
    try:
        yield ending
    except Stopped as stopped:
        ending.reason = stopped.reason
        with transaction() as session:
            stop(session, stopped)
        logger.info("%s stopped (%s): %s", what, stopped.reason, stopped.detail)
    except Exception as exc:
        logger.exception("%s failed", what)
        with transaction() as session:
            fail(session, f"{type(exc).__name__}: {exc}")
        raise
