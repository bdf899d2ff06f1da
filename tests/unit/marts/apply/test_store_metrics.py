"""What MartStore reports to its metrics (core.metrics, stage marts); MySQL is replaced by a scripted transaction."""
from __future__ import annotations

from collections.abc import Iterator

import pymysql
from prometheus_client import CollectorRegistry

from core.metrics import WorkerMetrics, register_worker_metrics
from core.settings import MySqlSettings
from marts.apply.store import MartStore
from marts.events import Event, Position

EVENTS = [Event(Position("shop.public.orders", 0, 1), None, 1_000_000, 10),
          Event(Position("shop.public.orders", 0, 2), None, 1_002_000, 11)]


def store_with(outcomes: list[BaseException | tuple[int, int]]) -> tuple[MartStore, WorkerMetrics, list[float]]:
    metrics = register_worker_metrics(CollectorRegistry(), "marts", ["user_activity"])
    store = MartStore(MySqlSettings.from_env({"MYSQL_URL": "mysql://u@127.0.0.1:1/db"}), metrics=metrics)
    paused: list[float] = []
    scripted: Iterator[BaseException | tuple[int, int]] = iter(outcomes)

    def transaction(events: object, mark: object) -> tuple[int, int]:
        outcome = next(scripted)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    store._transaction = transaction  # type: ignore[method-assign]
    original_set = metrics.paused.set

    def record(value: float) -> None:
        paused.append(value)
        original_set(value)

    metrics.paused.set = record  # type: ignore[method-assign]
    return store, metrics, paused


def sample(metrics: WorkerMetrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"stage": "marts"})


def test_a_committed_batch_counts_its_applied_events_and_their_commit_times() -> None:
    store, metrics, _ = store_with([(2, 0)])
    store.apply(EVENTS)
    assert (sample(metrics, "cdc_batches_total"), sample(metrics, "cdc_changes_applied_total"),
            sample(metrics, "cdc_commit_to_apply_seconds_count"),
            sample(metrics, "cdc_source_commit_timestamp_seconds")) == (1, 2, 2, 1_002.0)


def test_an_outage_counts_a_retry_and_pauses_until_the_batch_commits() -> None:
    store, metrics, paused = store_with([pymysql.err.OperationalError(2003, "cannot connect"), (2, 0)])
    store.apply(EVENTS)
    assert (sample(metrics, "cdc_write_retries_total"), paused) == (1, [1, 0])


def test_a_deadlock_counts_a_retry_without_pausing() -> None:
    store, metrics, paused = store_with([pymysql.err.OperationalError(1213, "deadlock"), (2, 0)])
    store.apply(EVENTS)
    assert (sample(metrics, "cdc_write_retries_total"), paused) == (1, [0])
