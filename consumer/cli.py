"""`cdc consume`: the replication consumer."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import click

from core.signals import stop_on_signals

if TYPE_CHECKING:
    from consumer.settings import ConsumerSettings


@click.command("consume")
@click.option("--stats", "show_stats", is_flag=True,
              help="Print committed offset, high watermark and lag per partition for the group, and exit.")
@click.option("--adopt-topics", is_flag=True,
              help="Do not consume: after the source topics were recreated, record their new ids and read them "
                   "from their start, keeping the replica (only right when the old topics were applied to their "
                   "end and the connector resumed where it stopped).")
@click.option("--rebuild", is_flag=True,
              help="Do not consume: drop the replica tables; the next run creates them and fills them from the "
                   "topics' start (right when the topics start with a full snapshot).")
def consume(show_stats: bool, adopt_topics: bool, rebuild: bool) -> None:
    """Replicate the five source tables' Debezium topics into MySQL (MYSQL_URL).

    Settings: KAFKA_BOOTSTRAP, MYSQL_URL, TOPIC_PREFIX, CONSUMER_GROUP (cdc-replica),
    CONSUMER_BATCH_SIZE (5000), CONSUMER_FLUSH_MS (150), DEADLETTER_TOPIC (<prefix>.deadletter),
    STATS_INTERVAL (10 s), METRICS_PORT (off), METRICS_HOST (127.0.0.1),
    CONSUMER_HEALTH_FILE (heartbeat for `cdc health consumer`, default <tmp>/cdc-consumer-health.json).
    Stops with exit 1 when a source topic it applied from was recreated (see --adopt-topics, --rebuild).
    One consumer is active per replica database (a MySQL lock); a second one waits as a hot standby and takes
    over within seconds when the first is gone.
    SIGINT/SIGTERM: finish the current batch and stop; a second one stops at once.
    """
    from consumer.settings import ConsumerSettings

    settings = ConsumerSettings.from_env()
    if show_stats:
        _print_stats(settings)
        return
    if adopt_topics:
        _adopt_topics(settings)
        return
    if rebuild:
        _rebuild(settings)
        return
    from consumer.app import run
    from core.connector_watch import start_connector_watch

    start_connector_watch()
    stop = threading.Event()
    # A second signal does not interrupt: the batch in hand is finished and the consumer closed
    # cleanly (an interrupt could land inside librdkafka's revoke callback during the close).
    with stop_on_signals(stop, finishing="the current batch", second_interrupts=False):
        run(settings, stop)


def _adopt_topics(settings: ConsumerSettings) -> None:
    from consumer import generations
    from core.topics import topic_ids, topic_partitions

    topics = generations.replica_topics(settings.mysql, settings.consumed_topics())
    changed = generations.adopt(settings.mysql, topic_ids(settings.kafka.bootstrap, topics),
                                topic_partitions(settings.kafka.bootstrap, topics))
    click.echo(f"adopted new topics: {', '.join(changed) or 'none had changed'}")


def _rebuild(settings: ConsumerSettings) -> None:
    from consumer import generations
    from consumer.errors import ConsumerError
    from core.topics import topic_ids, topic_partitions

    topics = generations.replica_topics(settings.mysql, settings.consumed_topics())  # added tables' too
    partitions = topic_partitions(settings.kafka.bootstrap, topics)
    missing = [topic for topic in settings.consumed_topics() if topic not in partitions]
    if missing:
        # The broker may keep the group's offsets for a topic created later: it could not be listed to re-read.
        raise ConsumerError(f"the source topics {', '.join(missing)} do not exist yet: run `cdc consume --rebuild` "
                            f"once the connector created them")
    generations.rebuild(settings.mysql, topic_ids(settings.kafka.bootstrap, topics), partitions)
    click.echo("replica tables dropped; `cdc consume` rebuilds them from the topics' start")


def _print_stats(settings: ConsumerSettings) -> None:
    from confluent_kafka import Consumer

    from consumer.offsets import partition_lags, render_lags
    from consumer.replica_schema import paused_tables

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": settings.group_id,
                         "enable.auto.commit": False})
    try:
        lags = partition_lags(consumer, settings.topics())
    finally:
        consumer.close()
    click.echo(f"group {settings.group_id}")
    click.echo(render_lags(lags))
    click.echo(f"total lag {sum(item.lag for item in lags)}")
    for table, reason in paused_tables(settings.mysql).items():
        click.echo(f"PAUSED {table}: {reason}")
