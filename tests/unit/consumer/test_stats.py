"""Progress counters, the log line, lag, and the Prometheus endpoint."""
from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from consumer.offsets import PartitionLag, next_offsets, render_lags
from consumer.stats import Stats, serve_metrics, update_lag
from tests.support.ports import free_port


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


def scrape(stats: Stats) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    port = free_port()
    server = serve_metrics(stats, port)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


REPLICA = (("stage", "replica"),)


def test_metrics_endpoint_serves_the_consumer_lag_per_partition() -> None:
    stats = Stats()
    update_lag(stats, {("shop.public.users", 1): 7}, {})
    samples = scrape(stats)
    assert samples[("cdc_consumer_lag_messages",
                    (("partition", "1"), ("stage", "replica"), ("topic", "shop.public.users")))] == 7


def test_a_committed_batch_counts_its_changes_and_sets_the_source_commit_time() -> None:
    stats = Stats()
    stats.committed(changes=3, source_ms=[1_000_000, 1_002_500], at=1_003.0)
    samples = scrape(stats)
    assert (samples[("cdc_changes_applied_total", REPLICA)], samples[("cdc_batches_total", REPLICA)],
            samples[("cdc_source_commit_timestamp_seconds", REPLICA)],
            samples[("cdc_commit_to_apply_seconds_sum", REPLICA)]) == (3, 1, 1_002.5, 3.5)


def test_a_failed_write_counts_a_retry_and_pauses_until_writing_again() -> None:
    stats = Stats()
    stats.write_failed()
    failing = scrape(stats)
    stats.writing_again()
    assert (failing[("cdc_write_retries_total", REPLICA)], failing[("cdc_paused", REPLICA)],
            scrape(stats)[("cdc_paused", REPLICA)]) == (1, 1, 0)


def test_dead_letters_are_counted() -> None:
    stats = Stats()
    stats.dead_lettered_more(2)
    assert scrape(stats)[("cdc_dead_letters_total", REPLICA)] == 2


def test_backoff_doubles_up_to_its_limit_and_resets() -> None:
    from core.mysql import Backoff

    backoff = Backoff(first=0.5, limit=2.0)
    assert not backoff.failing and backoff.ready()
    assert [backoff.failed() for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert backoff.failing and not backoff.ready()
    backoff.reset()
    assert not backoff.failing and backoff.ready()
