"""Progress counters of one consumer run, the periodic log line, and their Prometheus text form."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


@dataclass
class Stats:
    applied: int = 0  # row changes written (after coalescing)
    messages: int = 0  # messages consumed and committed
    batches: int = 0
    dead_lettered: int = 0
    write_failures: int = 0  # batch writes MySQL could not take (retried)
    lag: dict[tuple[str, int], int] = field(default_factory=dict)  # high watermark - committed
    _last_time: float = field(default_factory=time.monotonic)
    _last_messages: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def flushed(self, messages: int, applied: int) -> None:
        with self._lock:
            self.messages += messages
            self.applied += applied
            self.batches += 1

    def dead_lettered_more(self, count: int) -> None:
        with self._lock:
            self.dead_lettered += count

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
        return (
            f"{rate:.0f} changes/s; total {self.messages} messages, {self.applied} rows applied, "
            f"{self.batches} batches, {self.dead_lettered} dead-lettered, {self.write_failures} write retries; "
            f"lag {lag}"
        )

    def prometheus(self) -> str:
        with self._lock:
            lines = [
                "# TYPE cdc_consumer_messages_total counter", f"cdc_consumer_messages_total {self.messages}",
                "# TYPE cdc_consumer_rows_applied_total counter", f"cdc_consumer_rows_applied_total {self.applied}",
                "# TYPE cdc_consumer_batches_total counter", f"cdc_consumer_batches_total {self.batches}",
                "# TYPE cdc_consumer_dead_lettered_total counter",
                f"cdc_consumer_dead_lettered_total {self.dead_lettered}",
                "# TYPE cdc_consumer_write_failures_total counter",
                f"cdc_consumer_write_failures_total {self.write_failures}",
                "# TYPE cdc_consumer_lag gauge",
            ]
            lines += [
                f'cdc_consumer_lag{{topic="{topic}",partition="{part}"}} {value}'
                for (topic, part), value in sorted(self.lag.items())
            ]
        return "\n".join(lines) + "\n"


def update_lag(stats: Stats, highs: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int]) -> None:
    stats.lag = {where: max(high - committed.get(where, 0), 0) for where, high in highs.items()}


def serve_metrics(stats: Stats, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve GET /metrics on host:port from a daemon thread; the caller shuts it down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = stats.prometheus().encode()
            self.send_response(200 if self.path in ("/", "/metrics") else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            log.debug("metrics: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
