"""ConsumerSettings: everything `cdc consume` needs, read from the environment once."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.limits import CONSUMER_FETCH_MAX_BYTES, CONSUMER_RECEIVE_MAX_BYTES, MESSAGE_MAX_BYTES
from core.settings import DEFAULT_TOPIC_PREFIX, Env, HealthSettings, KafkaSettings, MySqlSettings, integer, text
from core.topic_names import (
    consumed_topics,
    consumer_deadletter_topic,
    heartbeat_topic,
    schema_changes_topic,
    signals_topic,
    source_topic_tables,
    table_topic,
    table_topics_pattern,
    transaction_topic,
)


@dataclass(frozen=True)
class ConsumerSettings:
    kafka: KafkaSettings
    mysql: MySqlSettings
    group_id: str = "cdc-replica"
    batch_size: int = 5000  # changes per MySQL transaction at most
    flush_interval: float = 0.15  # seconds a change may wait for its batch
    deadletter_topic: str = consumer_deadletter_topic(DEFAULT_TOPIC_PREFIX)
    stats_interval: float = 10.0  # seconds between progress log lines
    metrics_port: int = 0  # Prometheus text endpoint; 0: off
    # Loopback unless asked: the endpoint has no authentication. Compose sets 0.0.0.0 (its own network).
    metrics_host: str = "127.0.0.1"
    max_poll_interval_ms: int = 45_000
    health: HealthSettings = field(default_factory=lambda: HealthSettings.from_env("consumer", {}))

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ConsumerSettings:
        kafka = KafkaSettings.from_env(env)
        return cls(
            kafka=kafka,
            mysql=MySqlSettings.from_env(env),
            group_id=text(env, "CONSUMER_GROUP", cls.group_id),
            batch_size=integer(env, "CONSUMER_BATCH_SIZE", cls.batch_size, minimum=1),
            flush_interval=integer(env, "CONSUMER_FLUSH_MS", round(cls.flush_interval * 1000), minimum=1) / 1000,
            deadletter_topic=text(env, "DEADLETTER_TOPIC", consumer_deadletter_topic(kafka.topic_prefix)),
            stats_interval=integer(env, "STATS_INTERVAL", int(cls.stats_interval), minimum=1),
            metrics_port=integer(env, "METRICS_PORT", cls.metrics_port, minimum=0),
            metrics_host=text(env, "METRICS_HOST", cls.metrics_host),
            health=HealthSettings.from_env("consumer", env),
        )

    def topics(self) -> dict[str, str]:
        """Replicated topic -> replica table."""
        return source_topic_tables(self.kafka.topic_prefix)

    def table_topic(self, table: str) -> str:
        """The topic of a source table (of one added to the publication later too)."""
        return table_topic(self.kafka.topic_prefix, table)

    def table_topics_pattern(self) -> str:
        """What the consumer subscribes to besides the transaction topic: every table's topic, the heartbeat's,
        the schema changes' and the signals' included."""
        return table_topics_pattern(self.kafka.topic_prefix)

    def heartbeat_topic(self) -> str:
        """Consumed for its source transactions only (they move the watermark at idle), not replicated."""
        return heartbeat_topic(self.kafka.topic_prefix)

    def transaction_topic(self) -> str:
        return transaction_topic(self.kafka.topic_prefix)

    def schema_changes_topic(self) -> str:
        """The source's table definitions (consumer.schema), in commit order with the data."""
        return schema_changes_topic(self.kafka.topic_prefix)

    def signals_topic(self) -> str:
        """The backfills asked for (consumer.schema: a paused table is recreated at its backfill)."""
        return signals_topic(self.kafka.topic_prefix)

    def consumed_topics(self) -> list[str]:
        """Every topic the consumer reads (their generations are tracked together: consumer.generations)."""
        return [*consumed_topics(self.kafka.topic_prefix), self.schema_changes_topic(), self.signals_topic()]

    def kafka_config(self) -> dict[str, object]:
        return {
            "bootstrap.servers": self.kafka.bootstrap,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "max.poll.interval.ms": self.max_poll_interval_ms,
            # Eager assignors: a rebalance revokes every partition, so an
            # abandoned batch is re-read from the committed offsets by whoever
            # gets each partition next (see consumer.app).
            "partition.assignment.strategy": "range",
            "fetch.wait.max.ms": 50,
            "max.partition.fetch.bytes": MESSAGE_MAX_BYTES,
            "fetch.max.bytes": CONSUMER_FETCH_MAX_BYTES,
            "receive.message.max.bytes": CONSUMER_RECEIVE_MAX_BYTES,
            # The subscription is a pattern: a table added to the publication is noticed within this much (the
            # transactions that touch it wait for its topic meanwhile). librdkafka's default is 5 minutes.
            "topic.metadata.refresh.interval.ms": 5000,
        }
