"""The consumer benchmark's latency parts: where each change's time went, and where the slowest changes' went."""
from __future__ import annotations

import math

import pytest

from bench.cli import LiveReport
from bench.consumer_bench import ChangeTimes, Latency


def change(source_ms: int, total_ms: int, broker_ms: int) -> ChangeTimes:
    """A change that spent 1 ms in Debezium, 2 ms in Connect, `broker_ms` at the broker, 4 ms in its batch, 3 ms
    writing, the rest waiting for its transaction."""
    produced_ms = source_ms + 3
    received = (produced_ms + broker_ms) / 1000
    committed = (source_ms + total_ms) / 1000
    return ChangeTimes(source_ms, source_ms + 1, produced_ms, received, committed - 0.007, committed - 0.003,
                       committed)


def test_a_changes_parts_add_up_to_its_latency() -> None:
    parts = change(1_000, 50, 20).parts()
    assert [round(part * 1000, 6) for part in parts] == [1, 2, 20, 20, 4, 3]
    assert sum(parts) == pytest.approx(0.050)


def test_the_parts_of_the_slowest_share_are_the_means_over_those_changes_only() -> None:
    fast = [change(1_000 + index, 40, 10) for index in range(98)]
    slow = [change(2_000, 300, 250), change(2_001, 500, 450)]
    latency = Latency(fast + slow, LiveReport(600.0, 20.0, 1000))
    tail = latency.parts_of_slowest(0.02)
    assert [round(part * 1000, 6) for part in tail] == [1, 2, 350, 40, 4, 3]


def test_the_latency_less_the_brokers_hop_keeps_every_other_part() -> None:
    changes = [change(1_000, 50, 20), change(1_001, 300, 250)]
    less_broker = Latency(changes, LiveReport(600.0, 20.0, 1000)).samples_less_broker
    assert [round(latency * 1000, 6) for latency in less_broker] == [30, 50]


def test_the_latencies_are_grouped_by_when_the_source_committed_them() -> None:
    changes = [change(10_000, 40, 10), change(14_999, 60, 10), change(15_000, 100, 10), change(25_000, 30, 10)]
    windows = Latency(changes, LiveReport(600.0, 20.0, 1000)).by_window(5.0)
    assert [[round(latency * 1000, 6) for latency in window] for window in windows] == [[40, 60], [100], [], [30]]


def test_a_run_without_changes_has_no_parts() -> None:
    tail = Latency([], LiveReport(600.0, 20.0, 1000)).parts_of_slowest(0.01)
    assert len(tail) == 6 and all(math.isnan(part) for part in tail)
