"""The live stream: shop transactions at a steady rate until the duration ends or stop is asked for."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import psycopg2
from psycopg2 import errors

from core.settings import SourceSettings
from generator import db, pacing, transactions
from generator.errors import GeneratorError
from generator.model import Randomness
from generator.tables import CATEGORIES, PRODUCTS, USERS
from generator.transactions import Kind, Tx

log = logging.getLogger(__name__)

ON_SCHEDULE_SHARE = 0.95  # below this share of the requested rate a run fell behind
MAX_ON_SCHEDULE_LAG = 1.0  # seconds; a transaction started later than this: fell behind
# Lost to another writer: the transaction is rolled back, counted, and the stream goes on.
CONTENTION = (errors.DeadlockDetected, errors.SerializationFailure, errors.LockNotAvailable)


@dataclass(frozen=True)
class LiveConfig:
    rate: float
    duration: float | None = None  # seconds; None: until stopped
    seed: int = 1
    # Connections applying transactions side by side, each at rate / workers. One transaction waits
    # on several round trips to PostgreSQL, so one connection tops out well below what the server
    # takes. Beyond 1 the data also depends on how the workers interleave: not reproducible.
    workers: int = 1

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise GeneratorError(f"--rate must be positive, got {self.rate}")
        if self.workers < 1:
            raise GeneratorError(f"--workers must be 1 or more, got {self.workers}")
        if self.duration is not None and self.duration <= 0:
            raise GeneratorError(f"--duration must be positive, got {self.duration}")


@dataclass(frozen=True)
class LiveSummary:
    seed: int
    requested_rate: float
    elapsed_seconds: float
    counts: Mapping[Kind, int]  # committed transactions by kind (every kind present, maybe 0)
    failed: int  # rolled back after contention with another writer
    max_lag_seconds: float

    @property
    def transactions(self) -> int:
        return sum(self.counts.values())

    @property
    def achieved_rate(self) -> float:
        return pacing.per_second(self.transactions, self.elapsed_seconds)

    @property
    def fell_behind(self) -> bool:
        return (
            self.achieved_rate < ON_SCHEDULE_SHARE * self.requested_rate
            or self.max_lag_seconds > MAX_ON_SCHEDULE_LAG
        )


def run_live(
    settings: SourceSettings,
    config: LiveConfig,
    stop: threading.Event | None = None,
    clock: pacing.Clock | None = None,
) -> LiveSummary:
    """Apply transactions at config.rate per second; stop after config.duration or when stop is set."""
    stop = stop or threading.Event()
    if config.workers == 1:
        return _run_worker(settings, config, "live", clock or pacing.Clock.real(stop))
    share = replace(config, rate=config.rate / config.workers)
    results: list[LiveSummary | BaseException] = []

    def work(index: int) -> None:
        try:
            results.append(_run_worker(settings, share, f"live-{index}", pacing.Clock.real(stop)))
        except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
            stop.set()
            results.append(exc)

    threads = [threading.Thread(target=work, args=(index,), name=f"live-{index}") for index in range(config.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        raise failures[0]
    return _combined(config, [result for result in results if isinstance(result, LiveSummary)])


def _run_worker(settings: SourceSettings, config: LiveConfig, stream: str, clock: pacing.Clock) -> LiveSummary:
    rand = Randomness.stream(config.seed, stream)
    source = Source(settings)
    try:
        _prepare(source.conn)
        return _stream(source, config, rand, clock)
    except psycopg2.Error as exc:
        raise GeneratorError(f"the live stream failed: {exc}".strip()) from exc
    finally:
        source.close()


class Source:
    """The generator's connection; after a lost connection (PostgreSQL restarting) it reconnects."""

    RECONNECT_SECONDS = 120.0

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.conn = db.connect(settings, "cdc-generate-live")

    def reconnect(self, cause: BaseException) -> None:
        log.warning("lost the connection to PostgreSQL (%s); reconnecting", str(cause).strip())
        self.close()
        deadline = time.monotonic() + self.RECONNECT_SECONDS
        while True:
            try:
                self.conn = db.connect(self.settings, "cdc-generate-live")
                log.info("reconnected to PostgreSQL")
                return
            except GeneratorError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def close(self) -> None:
        try:
            self.conn.close()
        except psycopg2.Error:
            pass


def _combined(config: LiveConfig, parts: list[LiveSummary]) -> LiveSummary:
    counts: Counter[Kind] = Counter({kind: 0 for kind in Kind})
    for part in parts:
        counts.update(part.counts)
    return LiveSummary(
        seed=config.seed,
        requested_rate=config.rate,
        elapsed_seconds=max(part.elapsed_seconds for part in parts),
        counts=MappingProxyType(dict(counts)),
        failed=sum(part.failed for part in parts),
        max_lag_seconds=max(part.max_lag_seconds for part in parts),
    )


def _prepare(conn: Any) -> None:
    # Commits stay synchronous (PostgreSQL's default), as an application's: logical decoding reads
    # only flushed WAL, so an asynchronous commit would reach Debezium up to wal_writer_delay (200 ms)
    # late and add that to every latency measured downstream. It cost no measurable rate here.
    with conn, conn.cursor() as cur:
        empty = [t.name for t in (USERS, CATEGORIES, PRODUCTS) if not db.has_rows(cur, t)]
    if empty:
        raise GeneratorError(f"no rows in {', '.join(empty)} yet: run `cdc generate seed` first")


def _stream(source: Source, config: LiveConfig, rand: Randomness, clock: pacing.Clock) -> LiveSummary:
    counts: Counter[Kind] = Counter({kind: 0 for kind in Kind})
    failed, max_lag = 0, 0.0
    started = clock.now()
    for slot in pacing.slots(config.rate, config.duration, clock):
        max_lag = max(max_lag, slot.lag)
        try:
            outcome = _one_transaction(source.conn, transactions.draw_kind(rand), rand)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if not source.conn.closed and not isinstance(exc, psycopg2.InterfaceError):
                raise
            source.reconnect(exc)  # the transaction was not committed: counted as failed
            outcome = None
        if outcome is None:
            failed += 1
        else:
            counts[outcome] += 1
    summary = LiveSummary(
        seed=config.seed,
        requested_rate=config.rate,
        elapsed_seconds=clock.now() - started,
        counts=MappingProxyType(dict(counts)),
        failed=failed,
        max_lag_seconds=max_lag,
    )
    log.info("live: %d transactions in %.1f s (%.1f/s)", summary.transactions, summary.elapsed_seconds,
             summary.achieved_rate)
    return summary


def _one_transaction(conn: Any, kind: Kind, rand: Randomness) -> Kind | None:
    """Apply one transaction of kind (or its fallback) and commit; None if contention rolled it back."""
    try:
        with conn, conn.cursor() as cur:
            return transactions.apply(kind, Tx(cur, rand, datetime.now(UTC)))
    except CONTENTION as exc:
        log.warning("%s rolled back: %s", kind, str(exc).strip())
        return None
