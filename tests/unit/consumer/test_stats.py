"""Progress counters, the log line, lag, and the Prometheus text endpoint."""
from __future__ import annotations

import urllib.request

from cdc.local.processes import free_port
from consumer.offsets import PartitionLag, next_offsets, render_lags
from consumer.stats import Stats, serve_metrics, update_lag


def test_progress_line_and_lag() -> None:
    stats = Stats()
    stats.flushed(messages=10, applied=8)
    stats.dead_lettered_more(2)
    update_lag(stats, {("shop.public.orders", 0): 15, ("shop.public.orders", 1): 3}, {("shop.public.orders", 0): 10})
    line = stats.progress_line()
    assert "total 10 messages, 8 rows applied, 1 batches, 2 dead-lettered" in line
    assert "lag 8 (orders[0]=5 orders[1]=3)" in line


def test_next_offsets_commit_the_offset_after_the_last_applied() -> None:
    (tp,) = next_offsets({("t", 2): 41})
    assert (tp.topic, tp.partition, tp.offset) == ("t", 2, 42)


def test_lag_table_clamps_a_lagging_high_watermark() -> None:
    lags = [PartitionLag("t", 0, 10, 15), PartitionLag("t", 1, None, 4), PartitionLag("t", 2, 9, 8)]
    assert [item.lag for item in lags] == [5, 4, 0]
    assert "t" in render_lags(lags) and " - " in render_lags(lags)


def test_metrics_endpoint_serves_prometheus_text() -> None:
    stats = Stats()
    stats.flushed(messages=3, applied=3)
    update_lag(stats, {("shop.public.users", 1): 7}, {})
    port = free_port()
    server = serve_metrics(stats, port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
    assert "cdc_consumer_messages_total 3" in body
    assert 'cdc_consumer_lag{topic="shop.public.users",partition="1"} 7' in body


def test_backoff_doubles_up_to_its_limit_and_resets() -> None:
    from core.mysql import Backoff

    backoff = Backoff(first=0.5, limit=2.0)
    assert not backoff.failing and backoff.ready()
    assert [backoff.failed() for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert backoff.failing and not backoff.ready()
    backoff.reset()
    assert not backoff.failing and backoff.ready()
