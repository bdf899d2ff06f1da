"""`cdc consume` (the replication consumer) and `cdc verify` (replica == source)."""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from consumer.settings import ConsumerSettings

log = logging.getLogger(__name__)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("%s: finishing the current batch and stopping", signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@click.command("consume")
@click.option("--stats", "show_stats", is_flag=True,
              help="Print committed offset, high watermark and lag per partition for the group, and exit.")
def consume(show_stats: bool) -> None:
    """Replicate the five source tables' Debezium topics into MySQL (MYSQL_URL).

    Settings: KAFKA_BOOTSTRAP, MYSQL_URL, TOPIC_PREFIX, CONSUMER_GROUP (cdc-replica),
    CONSUMER_BATCH_SIZE (5000), CONSUMER_FLUSH_MS (150), DEADLETTER_TOPIC (<prefix>.deadletter),
    STATS_INTERVAL (10 s), METRICS_PORT (off).
    """
    from consumer.settings import ConsumerSettings

    settings = ConsumerSettings.from_env()
    if show_stats:
        _print_stats(settings)
        return
    from consumer.app import run

    stop = threading.Event()
    with _stop_on_signals(stop):
        run(settings, stop)


def _print_stats(settings: ConsumerSettings) -> None:
    from confluent_kafka import Consumer

    from consumer.offsets import partition_lags, render_lags

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": settings.group_id,
                         "enable.auto.commit": False})
    try:
        lags = partition_lags(consumer, settings.topics())
    finally:
        consumer.close()
    click.echo(f"group {settings.group_id}")
    click.echo(render_lags(lags))
    click.echo(f"total lag {sum(item.lag for item in lags)}")


@click.command("verify")
@click.option("--wait", "wait_seconds", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Retry until everything matches or this many seconds have passed.")
def verify(wait_seconds: float) -> None:
    """Compare every replica table with its source row by row; exit 1 unless all match."""
    from cdc.settings import MySqlSettings, SourceSettings
    from cdc.verify import render
    from consumer.verify import replica_reports, run_checks

    from cdc.errors import CdcError

    source, replica = SourceSettings.from_env(), MySqlSettings.from_env()
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            reports = run_checks([lambda: replica_reports(source, replica)])
        except CdcError:
            if time.monotonic() >= deadline:
                raise
            reports = []
        if (reports and all(report.matches for report in reports)) or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    click.echo(render(reports))
    if not all(report.matches for report in reports):
        sys.exit(1)
