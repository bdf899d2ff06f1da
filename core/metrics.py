"""The pipeline's Prometheus metrics: every name, type, help text, label set and bucket list, stated here only.

Three endpoints export them, each from its own CollectorRegistry:
- the consumer (`cdc consume`, METRICS_PORT) and the marts worker (`cdc marts`, MARTS_METRICS_PORT): the worker
  metrics, with `stage` = "replica" or "marts" (`register_worker_metrics`);
- the exporter (`cdc exporter`, EXPORTER_METRICS_PORT): the replication slot and the connector's state, read from
  PostgreSQL and the Kafka Connect REST API (`register_exporter_metrics`).

Base units (seconds, bytes), counters end in `_total`. `Metric.name` is the name as Prometheus sees it (a
counter's with `_total`); `series_names` lists the sample names a scrape carries for it (a histogram's
`_bucket`, `_sum`, `_count`), which is what a dashboard's query refers to. The workers, the exporter, `cdc top`
and the dashboard's test import these instead of spelling a name again.

Lag and freshness are computed at scrape time (now - the source commit time of the last applied change), so
they keep growing while nothing is applied; the Debezium heartbeat (a write to the source's cdc_heartbeat table
every 10 s) keeps them meaningful on an idle source. They are NaN until the first change was applied.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, start_http_server

log = logging.getLogger(__name__)

STAGE_REPLICA = "replica"  # the consumer
STAGE_MARTS = "marts"  # the Faust marts worker
STAGES = (STAGE_REPLICA, STAGE_MARTS)

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"

# Which endpoint exports a metric.
REPLICA = "replica"
MARTS = "marts"
EXPORTER = "exporter"
ENDPOINTS = (REPLICA, MARTS, EXPORTER)

COMMIT_TO_APPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# Kafka Connect's states of a connector or a task, plus MISSING: the connector does not exist.
CONNECTOR_STATES = ("RUNNING", "PAUSED", "FAILED", "UNASSIGNED", "RESTARTING", "STOPPED", "MISSING")
MISSING = "MISSING"
SCRAPE_SOURCES = ("postgres", "connect")  # what the exporter reads; the label of its scrape errors


@dataclass(frozen=True)
class Metric:
    name: str  # as exposed (a counter's with _total)
    kind: str  # COUNTER, GAUGE or HISTOGRAM
    help: str
    labels: tuple[str, ...]
    endpoints: tuple[str, ...]  # REPLICA, MARTS, EXPORTER: who exports it
    buckets: tuple[float, ...] = ()  # histograms only

    @property
    def series_names(self) -> tuple[str, ...]:
        """The sample names of a scrape for this metric (without the _created samples prometheus-client adds)."""
        if self.kind == HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)

    @property
    def family_name(self) -> str:
        """The name prometheus_client.parser gives the metric's family (a counter's without _total)."""
        return self.name.removesuffix("_total") if self.kind == COUNTER else self.name


WORKERS = (REPLICA, MARTS)

REPLICA_LAG_SECONDS = Metric(
    "cdc_replica_lag_seconds", GAUGE,
    "Seconds from the source commit of the last change applied to the replica until now (NaN before the first)",
    (), (REPLICA,))
COMMIT_TO_APPLY_SECONDS = Metric(
    "cdc_commit_to_apply_seconds", HISTOGRAM,
    "Seconds from a change's source commit to the MySQL commit of the batch that applied it, one observation "
    "per applied change (Debezium heartbeats included)",
    ("stage",), WORKERS, COMMIT_TO_APPLY_BUCKETS)
MART_FRESHNESS_SECONDS = Metric(
    "cdc_mart_freshness_seconds", GAUGE,
    "Seconds from the source commit of the last change applied to the marts until now (NaN before the first)",
    ("mart",), (MARTS,))
SOURCE_COMMIT_TIMESTAMP_SECONDS = Metric(
    "cdc_source_commit_timestamp_seconds", GAUGE,
    "Source commit time (unix seconds) of the last applied change; time() - this is the lag",
    ("stage",), WORKERS)
CHANGES_APPLIED_TOTAL = Metric(
    "cdc_changes_applied_total", COUNTER, "Change events applied to MySQL", ("stage",), WORKERS)
BATCHES_TOTAL = Metric(
    "cdc_batches_total", COUNTER, "Batches committed to MySQL (one transaction each)", ("stage",), WORKERS)
DEAD_LETTERS_TOTAL = Metric(
    "cdc_dead_letters_total", COUNTER, "Messages sent to the stage's dead-letter topic", ("stage",), WORKERS)
WRITE_RETRIES_TOTAL = Metric(
    "cdc_write_retries_total", COUNTER, "MySQL batch writes that failed and are retried", ("stage",), WORKERS)
PAUSED = Metric(
    "cdc_paused", GAUGE, "1 while MySQL writes are failing and the stage waits to retry, else 0", ("stage",), WORKERS)
TABLE_PAUSED = Metric(
    "cdc_table_paused", GAUGE,
    "1 for a replica table whose changes are not applied since a source schema change it cannot follow, else 0",
    ("table",), (REPLICA,))
MARTS_PAUSED = Metric(
    "cdc_marts_paused", GAUGE,
    "1 while the marts apply nothing since a source schema change of a column they read, else 0",
    (), (MARTS,))
CONSUMER_LAG_MESSAGES = Metric(
    "cdc_consumer_lag_messages", GAUGE, "Messages behind per partition: high watermark - next offset to apply",
    ("stage", "topic", "partition"), WORKERS)

SLOT_RETAINED_WAL_BYTES = Metric(
    "cdc_slot_retained_wal_bytes", GAUGE,
    "WAL the replication slot keeps on the source: pg_current_wal_lsn() - restart_lsn, in bytes",
    ("slot",), (EXPORTER,))
SLOT_ACTIVE = Metric(
    "cdc_slot_active", GAUGE, "1 while a client (Debezium) streams from the replication slot, else 0",
    ("slot",), (EXPORTER,))
CONNECTOR_STATE = Metric(
    "cdc_connector_state", GAUGE, "1 for the connector's current state, 0 for the others (MISSING: no such connector)",
    ("connector", "state"), (EXPORTER,))
CONNECTOR_TASK_STATE = Metric(
    "cdc_connector_task_state", GAUGE, "1 for the task's current state, 0 for the others",
    ("connector", "task", "state"), (EXPORTER,))
EXPORTER_SCRAPE_ERRORS_TOTAL = Metric(
    "cdc_exporter_scrape_errors_total", COUNTER, "Readings of PostgreSQL or Kafka Connect that failed",
    ("source",), (EXPORTER,))

METRICS: tuple[Metric, ...] = (
    REPLICA_LAG_SECONDS, COMMIT_TO_APPLY_SECONDS, MART_FRESHNESS_SECONDS, SOURCE_COMMIT_TIMESTAMP_SECONDS,
    CHANGES_APPLIED_TOTAL, BATCHES_TOTAL, DEAD_LETTERS_TOTAL, WRITE_RETRIES_TOTAL, PAUSED, TABLE_PAUSED,
    MARTS_PAUSED, CONSUMER_LAG_MESSAGES,
    SLOT_RETAINED_WAL_BYTES, SLOT_ACTIVE, CONNECTOR_STATE, CONNECTOR_TASK_STATE, EXPORTER_SCRAPE_ERRORS_TOTAL,
)


def metrics_of(endpoint: str) -> tuple[Metric, ...]:
    """The metrics one endpoint (REPLICA, MARTS or EXPORTER) exports."""
    return tuple(metric for metric in METRICS if endpoint in metric.endpoints)


def series_names(endpoints: Iterable[str] = ENDPOINTS) -> frozenset[str]:
    """Every sample name the given endpoints export (for checking a dashboard's queries)."""
    return frozenset(name for metric in METRICS if set(metric.endpoints) & set(endpoints)
                     for name in metric.series_names)


def _without_created_series() -> None:
    # The _created samples (a counter's start time) double every scrape's size and no query of ours reads them.
    disable_created_metrics()


def _counter(metric: Metric, registry: CollectorRegistry) -> Counter:
    return Counter(metric.name, metric.help, metric.labels, registry=registry)


def _gauge(metric: Metric, registry: CollectorRegistry) -> Gauge:
    return Gauge(metric.name, metric.help, metric.labels, registry=registry)


# --- the workers -------------------------------------------------------------------------------

class LastCommit:
    """The source commit time of the last applied change, and the seconds since (thread-safe; NaN before the first)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.seconds = math.nan  # unix seconds

    def advance(self, seconds: float) -> None:
        """Record an applied change's commit time; an older one (a re-read, another partition) leaves it as it is."""
        with self._lock:
            if not seconds <= self.seconds:  # NaN at first
                self.seconds = seconds

    def age(self) -> float:
        return self._clock() - self.seconds  # NaN stays NaN


@dataclass(frozen=True)
class WorkerMetrics:
    """One worker's metrics on its registry, with its `stage` label bound."""

    stage: str
    registry: CollectorRegistry
    commit_to_apply: Histogram
    source_commit: LastCommit
    changes_applied: Counter
    batches: Counter
    dead_letters: Counter
    write_retries: Counter
    paused: Gauge
    consumer_lag: Gauge  # labelled: call set_consumer_lag
    table_paused: Gauge | None  # {table}; the replica's only
    marts_paused: Gauge | None = None  # the marts' only

    def applied(self, changes: int, commit_seconds: Iterable[float], applied_at: float) -> None:
        """A batch committed at `applied_at` (unix seconds) applying `changes` changes of the given commit times."""
        self.batches.inc()
        self.changes_applied.inc(changes)
        self.observe(commit_seconds, applied_at)

    def observe(self, commit_seconds: Iterable[float], applied_at: float) -> None:
        """Changes (or heartbeats) of these source commit times applied at `applied_at`, not counted as changes."""
        newest = math.nan
        delays = []
        for seconds in commit_seconds:
            delays.append(max(applied_at - seconds, 0.0))
            if not seconds <= newest:
                newest = seconds
        observe_all(self.commit_to_apply, delays)
        if not math.isnan(newest):
            self.source_commit.advance(newest)

    def set_consumer_lag(self, lag: dict[tuple[str, int], int]) -> None:
        """Messages behind per (topic, partition); partitions no longer in `lag` are dropped."""
        self.consumer_lag.clear()
        for (topic, partition), behind in lag.items():
            self.consumer_lag.labels(self.stage, topic, str(partition)).set(behind)


def register_worker_metrics(registry: CollectorRegistry, stage: str, marts: Iterable[str] = (),
                            clock: Callable[[], float] = time.time) -> WorkerMetrics:
    """Create the worker metrics of `stage` on `registry`; `marts` (the marts worker's) label the freshness."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    _without_created_series()
    source_commit = LastCommit(clock)
    committed = _gauge(SOURCE_COMMIT_TIMESTAMP_SECONDS, registry).labels(stage)
    committed.set_function(lambda: source_commit.seconds)
    if stage == STAGE_REPLICA:
        Gauge(REPLICA_LAG_SECONDS.name, REPLICA_LAG_SECONDS.help, registry=registry).set_function(source_commit.age)
    else:
        freshness = _gauge(MART_FRESHNESS_SECONDS, registry)
        for mart in marts:  # every mart is written by every batch's transaction: one commit time for all
            freshness.labels(mart).set_function(source_commit.age)
    histogram = Histogram(COMMIT_TO_APPLY_SECONDS.name, COMMIT_TO_APPLY_SECONDS.help, COMMIT_TO_APPLY_SECONDS.labels,
                          registry=registry, buckets=COMMIT_TO_APPLY_SECONDS.buckets)
    paused = _gauge(PAUSED, registry).labels(stage)
    paused.set(0)
    table_paused = _gauge(TABLE_PAUSED, registry) if stage == STAGE_REPLICA else None
    marts_paused = _gauge(MARTS_PAUSED, registry) if stage == STAGE_MARTS else None
    if marts_paused is not None:
        marts_paused.set(0)
    return WorkerMetrics(
        stage=stage,
        registry=registry,
        commit_to_apply=histogram.labels(stage),
        source_commit=source_commit,
        changes_applied=_counter(CHANGES_APPLIED_TOTAL, registry).labels(stage),
        batches=_counter(BATCHES_TOTAL, registry).labels(stage),
        dead_letters=_counter(DEAD_LETTERS_TOTAL, registry).labels(stage),
        write_retries=_counter(WRITE_RETRIES_TOTAL, registry).labels(stage),
        paused=paused,
        consumer_lag=_gauge(CONSUMER_LAG_MESSAGES, registry),
        table_paused=table_paused,
        marts_paused=marts_paused,
    )


# --- the exporter ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExporterMetrics:
    registry: CollectorRegistry
    slot_retained_wal: Gauge  # {slot}
    slot_active: Gauge  # {slot}
    connector_state: Gauge  # {connector, state}
    task_state: Gauge  # {connector, task, state}
    scrape_errors: Counter  # {source}

    def set_connector_state(self, connector: str, state: str) -> None:
        for each in CONNECTOR_STATES:
            self.connector_state.labels(connector, each).set(1 if each == state else 0)

    def set_task_states(self, connector: str, states: dict[int, str]) -> None:
        """Each task's state (task id -> state); tasks that are gone are dropped."""
        self.task_state.clear()
        for task, state in sorted(states.items()):
            for each in CONNECTOR_STATES:
                self.task_state.labels(connector, str(task), each).set(1 if each == state else 0)


def register_exporter_metrics(registry: CollectorRegistry) -> ExporterMetrics:
    _without_created_series()
    errors = _counter(EXPORTER_SCRAPE_ERRORS_TOTAL, registry)
    for source in SCRAPE_SOURCES:
        errors.labels(source)  # exported as 0 from the start, so rate() sees the first error
    return ExporterMetrics(
        registry=registry,
        slot_retained_wal=_gauge(SLOT_RETAINED_WAL_BYTES, registry),
        slot_active=_gauge(SLOT_ACTIVE, registry),
        connector_state=_gauge(CONNECTOR_STATE, registry),
        task_state=_gauge(CONNECTOR_TASK_STATE, registry),
        scrape_errors=errors,
    )


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Serve `registry` at http://host:port/metrics from a daemon thread; the caller shuts the server down."""
    server, _ = start_http_server(port, host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server


def observe_all(histogram: Histogram, amounts: Sequence[float]) -> None:
    """histogram.observe(amount) for each amount (none NaN), with one increment per bucket instead of one per amount.

    A batch of 100,000 changes took the writer's thread 0.3 s to observe one by one (prometheus_client takes a lock
    and walks the buckets in Python per call). This reads the histogram's bucket fields, which are not public API:
    the version is pinned, and tests/unit/core/test_metrics.py holds the result equal to observe's. The sum is
    added at once (math.fsum), so it may differ from observe's one-by-one additions in the last bits."""
    histogram._raise_if_not_observable()
    bounds = histogram._upper_bounds  # ascending, the last +Inf
    counts = [0] * len(bounds)
    for amount in amounts:
        counts[bisect_left(bounds, amount)] += 1  # the first bucket whose bound is >= amount, as observe's
    histogram._sum.inc(math.fsum(amounts))
    for bucket, count in zip(histogram._buckets, counts, strict=True):
        if count:
            bucket.inc(count)
