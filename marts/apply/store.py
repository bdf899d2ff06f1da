"""MartStore: state, marts and applied offsets in MySQL, changed together in one transaction per batch.

Exactly-once effect: a batch's state changes, mart deltas and the last
applied offset of each (topic, partition) commit in one transaction
(marts.apply.batch), so an event at or below its partition's stored offset has
already been applied and is skipped (marts.apply.offsets).

Where a batch's work goes: the modules of marts.apply (its docstring maps them).

Concurrency: transactions run SERIALIZABLE (marts.schema.connect), where InnoDB
makes every read a locking read (next-key locks). Two workers applying,
say, an order and one of its lines at the same time cannot both miss each
other: one waits for the other or deadlocks and retries. Deadlocks (1213),
lock wait timeouts (1205), lost connections and outages are retried with
the whole batch (core.mysql says which failures are retried, and how long
to wait); a value MySQL refuses rejects the batch instead.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import pymysql
from pymysql.connections import Connection

from core import watermark
from core.errors import MySqlUnavailable
from core.metrics import WorkerMetrics
from core.mysql import Backoff, close_quietly, is_lock_conflict, is_transient
from core.settings import MySqlSettings
from core.watermark import MARTS_STAGE
from marts import pause as marts_pause
from marts.apply import offsets
from marts.apply.batch import SourceMark, apply_batch
from marts.errors import RejectedBatch, StoreStopped
from marts.events import Event
from marts.schema import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    applied: int
    skipped: int  # already applied before (duplicates, replays)
    attempts: int  # transactions tried
    rejected: int = 0  # events MySQL refused: dead-lettered, applied as nothing

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(self.applied + other.applied, self.skipped + other.skipped,
                           self.attempts + other.attempts, self.rejected + other.rejected)


Reject = Callable[[Event, str], None]


class MartStore:
    """Applies batches of events; owns one connection (use it from one thread at a time).

    MySQL outages of any length are waited out (the batch is retried until it
    commits, or until `stopping` is set); a batch with a value MySQL refuses is
    split until the events at fault are found, and each of those goes to the
    caller's `reject` and is applied as nothing (its offset still counts).
    """

    def __init__(self, mysql: MySqlSettings,
                 on_batch_committed: Callable[[Sequence[Event]], None] | None = None, *,
                 metrics: WorkerMetrics | None = None) -> None:
        """`on_batch_committed(events)` runs right after a transaction's commit (for tests and measurements);
        `metrics` (core.metrics, stage marts) counts the transactions, their events and retries, and observes
        each event of a committed transaction from its source commit (replays skipped in MySQL included)."""
        self.mysql = mysql
        self.on_batch_committed = on_batch_committed
        self.metrics = metrics
        self.stopping = threading.Event()
        self._conn: Connection | None = None
        self._in_use = threading.Lock()  # the connection, between the worker's thread and close()
        self._applied = offsets.AppliedOffsets()
        self.applied_lsn = -1  # the marts' watermark: commit LSN of the last source transaction applied
        self.pause: marts_pause.Pause | None = None  # stored with the marts (marts.pause)

    def load_positions(self) -> None:
        """Read the offsets applied so far (by any worker) and the marts' pause, if any, from MySQL."""
        conn = connect(self.mysql)
        try:
            with conn.cursor() as cur:
                self._applied.replace(offsets.read_all(cur))
                self.applied_lsn = watermark.read_lsn(cur, MARTS_STAGE)
                self.pause = marts_pause.read(cur)
        finally:
            conn.close()

    def positions(self) -> dict[tuple[str, int], int]:
        """The last offset applied per (topic, partition), as this worker knows it."""
        return self._applied.snapshot()

    def apply(self, events: Sequence[Event], reject: Reject | None = None,
              mark: SourceMark | None = None) -> BatchResult:
        """`mark`: the positions and source transaction the batch completes, stored with its last commit."""
        try:
            return self._commit(events, mark)
        except RejectedBatch as exc:
            if reject is None or not events:
                raise
            if len(events) == 1:
                return self._apply_rejected(events[0], str(exc), reject, mark)
            half = len(events) // 2
            return self.apply(events[:half], reject) + self.apply(events[half:], reject, mark)

    def _apply_rejected(self, event: Event, reason: str, reject: Reject, mark: SourceMark | None) -> BatchResult:
        log.warning("MySQL refused the event at %s (%s); dead-lettering it", event.position, reason)
        reject(event, reason)
        return self._commit([msgspec.structs.replace(event, change=None)], mark) + BatchResult(0, 0, 0, rejected=1)

    def _commit(self, events: Sequence[Event], mark: SourceMark | None = None) -> BatchResult:
        """One transaction, tried until it commits; raises RejectedBatch or StoreStopped."""
        backoff, failing_since, attempt = Backoff(), None, 0
        while True:
            attempt += 1
            try:
                applied, skipped = self._transaction(events, mark)
                committed_at = time.time()
            except (pymysql.MySQLError, MySqlUnavailable) as exc:
                with self._in_use:
                    self._abandon(drop=not is_lock_conflict(exc))
                self._count_failure(exc)
                if not is_transient(exc):
                    raise RejectedBatch(str(exc)) from exc
                failing_since = failing_since or time.monotonic()
                delay = backoff.wait_after(exc)
                self._log_wait(exc, attempt, delay)
                if self.stopping.wait(delay):
                    raise StoreStopped(f"stopped while MySQL is unavailable ({exc})") from exc
                continue
            self._applied.advance(events, mark.positions if mark else None)
            if mark is not None and mark.point is not None:
                self.applied_lsn = mark.point.lsn
            if mark is not None and mark.pause is not None:
                self.pause = mark.pause
            self._count_commit(events, applied, committed_at)
            if self.on_batch_committed is not None:
                self.on_batch_committed(events)
            if failing_since is not None and backoff.failing:
                log.info("MySQL is back: a batch of %d events committed after %.1f s and %d attempts",
                         len(events), time.monotonic() - failing_since, attempt)
            return BatchResult(applied, skipped, attempt)

    def _transaction(self, events: Sequence[Event], mark: SourceMark | None) -> tuple[int, int]:
        with self._in_use:
            conn = self._connection()
            with conn.cursor() as cur:
                counts = apply_batch(cur, events, mark)
            conn.commit()
            return counts

    def _count_failure(self, exc: BaseException) -> None:
        if self.metrics is None:
            return
        self.metrics.write_retries.inc()
        if not is_lock_conflict(exc):  # a deadlock is retried at once; an outage is waited out
            self.metrics.paused.set(1)

    def _count_commit(self, events: Sequence[Event], applied: int, committed_at: float) -> None:
        if self.metrics is None:
            return
        self.metrics.paused.set(0)
        self.metrics.applied(applied, [event.source_ts_ms / 1000 for event in events
                                       if event.source_ts_ms is not None], committed_at)

    @staticmethod
    def _log_wait(exc: BaseException, attempt: int, delay: float) -> None:
        if is_lock_conflict(exc):
            log.info("batch: %s; retrying (attempt %d)", exc, attempt)
        elif attempt == 1 or attempt % 10 == 0:
            log.warning("MySQL unavailable (%s); waiting, next attempt in %.1f s (attempt %d)", exc, delay, attempt)

    def close(self) -> None:
        """Waits for a transaction in progress in another thread (a connection serves one thread at a time)."""
        with self._in_use:
            self._abandon(True)

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = connect(self.mysql)
        return self._conn

    def _abandon(self, drop: bool) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except pymysql.MySQLError:
            drop = True
        if drop:
            close_quietly(self._conn)
            self._conn = None
