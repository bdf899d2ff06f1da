"""Progress counters of one consumer run, the periodic log line, and the Prometheus metrics (core.metrics).

The replicator calls these methods where its state changes; the plain counters feed the log line (and the
benchmarks), the metrics are served by `serve_metrics` on the consumer's own registry (stage "replica").
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry

from core.metrics import STAGE_REPLICA, WorkerMetrics, register_worker_metrics, serve

log = logging.getLogger(__name__)


def _replica_metrics() -> WorkerMetrics:
    return register_worker_metrics(CollectorRegistry(), STAGE_REPLICA)


@dataclass
class Stats:
    applied: int = 0  # row changes written (after coalescing)
    messages: int = 0  # messages consumed and committed
    batches: int = 0
    dead_lettered: int = 0
    write_failures: int = 0  # batch writes MySQL could not take (retried)
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # high watermark - committed
    paused_tables: dict[str, str] = field(default_factory=dict)  # table -> why (consumer.schema)
    metrics: WorkerMetrics = field(default_factory=_replica_metrics)
    _last_time: float = field(default_factory=time.monotonic)
    _last_messages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def committed(self, changes: int, source_ms: Sequence[int], at: float) -> None:
        """A batch of `changes` change events, with these source commit times (ms), committed in MySQL at `at`
        (unix seconds). Called once per batch written, from the writer thread."""
        self.metrics.applied(changes, [ms / 1000 for ms in source_ms], at)

    def flushed(self, messages: int, applied: int) -> None:
        with self._lock:
            self.messages += messages
            self.applied += applied
            self.batches += 1

    def dead_lettered_more(self, count: int) -> None:
        with self._lock:
            self.dead_lettered += count
        self.metrics.dead_letters.inc(count)

    def write_failed(self) -> None:
        """A batch write failed: it is retried, and consumption pauses until it succeeds."""
        self.write_failures += 1
        self.metrics.write_retries.inc()
        self.metrics.paused.set(1)

    def writing_again(self) -> None:
        """Nothing is left to retry (written, or abandoned to be re-read): consumption goes on."""
        self.metrics.paused.set(0)

    def table_paused(self, table: str, reason: str | None) -> None:
        """A replicated table's state: paused with `reason`, or replicating (None)."""
        if reason is None:
            self.paused_tables.pop(table, None)
        else:
            self.paused_tables[table] = reason
        if self.metrics.table_paused is not None:
            self.metrics.table_paused.labels(table).set(0 if reason is None else 1)

    def due(self, interval: float) -> bool:
        return time.monotonic() - self._last_time >= interval

    def progress_line(self) -> str:
        now = time.monotonic()
        rate = (self.messages - self._last_messages) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_messages = now, self.messages
        behind = " ".join(
            f"{topic.rsplit('.', 1)[-1]}[{part}]={value}" for (topic, part), value in sorted(self.lag.items()) if value
        )
        lag = f"{sum(self.lag.values())} ({behind or 'all partitions caught up'})" if self.lag else "n/a"
        paused = f"; PAUSED tables: {', '.join(sorted(self.paused_tables))}" if self.paused_tables else ""
        return (
            f"{rate:.0f} changes/s; total {self.messages} messages, {self.applied} rows applied, "
            f"{self.batches} batches, {self.dead_lettered} dead-lettered, {self.write_failures} write retries; "
            f"lag {lag}{paused}"
        )


def update_lag(stats: Stats, highs: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int]) -> None:
    stats.lag = {where: max(high - committed.get(where, 0), 0) for where, high in highs.items()}
    stats.metrics.set_consumer_lag(stats.lag)


def serve_metrics(stats: Stats, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve the metrics at http://host:port/metrics from a daemon thread; the caller shuts the server down."""
    return serve(stats.metrics.registry, port, host)
