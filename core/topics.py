"""The pipeline's topics on the broker: their creation with a known partition count, their ids and partitions.

Their names are stated in core.topic_names. Relying on auto-creation would leave the partition count to the
broker's default; the Faust marts need their tables' partitions to equal
their source topics' partitions, so the count is decided here
(TOPIC_PARTITIONS).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

from core.errors import ConnectorError
from core.limits import MESSAGE_MAX_BYTES
from core.topic_names import pipeline_topics, schema_changes_topic, signals_topic, transaction_topic

log = logging.getLogger(__name__)

KEPT_FOREVER: Mapping[str, str] = MappingProxyType({"retention.ms": "-1", "retention.bytes": "-1"})


def ensure_source_topics(bootstrap: str, topic_prefix: str, partitions: int, replication_factor: int) -> list[str]:
    """The tables' topics (heartbeat table's included) with `partitions`; the transaction topic and the
    schema-changes table's topic with one."""
    created = ensure_topics(bootstrap, pipeline_topics(topic_prefix), partitions, replication_factor)
    created += ensure_transaction_topic(bootstrap, topic_prefix, replication_factor)
    created += ensure_signals_topic(bootstrap, topic_prefix, replication_factor)
    return created + ensure_schema_changes_topic(bootstrap, topic_prefix, replication_factor)


def ensure_transaction_topic(bootstrap: str, topic_prefix: str, replication_factor: int) -> list[str]:
    """Debezium's transaction topic, with its one partition, before a stage subscribes to it: a consumer
    subscribed to a topic that does not exist yet would notice it only at its next metadata refresh
    (minutes), and wait that long for every transaction."""
    return ensure_topics(bootstrap, [transaction_topic(topic_prefix)], 1, replication_factor)


def ensure_schema_changes_topic(bootstrap: str, topic_prefix: str, replication_factor: int) -> list[str]:
    """The cdc_schema_changes table's topic, with one partition: its rows (the source's DDL history, migration
    0003) keep their order, which several partitions (by key) would not. Kept forever (as the schema history
    topic of Debezium's MySQL connector must be): the consumer looks up a table's definition from the topic's
    start (the snapshot's rows, consumer.schema_history), which the broker's default retention (7 days) would
    delete. Connect creates it the same way (connectors/postgres-source.json, topic.creation.schema_changes)."""
    return ensure_topics(bootstrap, [schema_changes_topic(topic_prefix)], 1, replication_factor, KEPT_FOREVER)


def ensure_signals_topic(bootstrap: str, topic_prefix: str, replication_factor: int) -> list[str]:
    """The signal table's topic, before the consumer subscribes to it: created by the connector only with the first
    signal, it would be noticed minutes later (a metadata refresh), and every transaction wait as long."""
    return ensure_topics(bootstrap, [signals_topic(topic_prefix)], 1, replication_factor)


def ensure_topics(bootstrap: str, topics: Iterable[str], partitions: int, replication_factor: int,
                  config: Mapping[str, str] = MappingProxyType({})) -> list[str]:
    """Create the topics that do not exist yet (with `config` besides the message size); return those created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        existing = set(admin.list_topics(timeout=15).topics)
    except KafkaException as exc:
        raise ConnectorError(f"the Kafka broker is unreachable at {bootstrap} (KAFKA_BOOTSTRAP): {exc}") from exc
    wanted = [name for name in topics if name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                  config={"max.message.bytes": str(MESSAGE_MAX_BYTES), **config}) for name in wanted],
        operation_timeout=15,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise ConnectorError(f"cannot create topic {name}: {exc}") from exc
    log.info("created topics %s (%d partitions)", ", ".join(created), partitions)
    return created


def topic_ids(bootstrap: str, topics: Iterable[str], timeout: float = 15.0) -> dict[str, str]:
    """The broker's id of each existing topic among `topics` (a recreated topic gets a new id)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
        wanted = [name for name in topics if name in existing]
        if not wanted:
            return {}
        futures = admin.describe_topics(TopicCollection(wanted), request_timeout=timeout)
        return {name: str(future.result().topic_id) for name, future in futures.items()}
    except KafkaException as exc:
        raise ConnectorError(f"cannot describe topics on {bootstrap} (KAFKA_BOOTSTRAP): {exc}") from exc


def topic_partitions(bootstrap: str, topics: Iterable[str], timeout: float = 15.0) -> dict[str, list[int]]:
    """The partitions of each existing topic among `topics`."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        listed = admin.list_topics(timeout=timeout).topics
    except KafkaException as exc:
        raise ConnectorError(f"cannot list topics on {bootstrap} (KAFKA_BOOTSTRAP): {exc}") from exc
    return {name: sorted(listed[name].partitions) for name in topics if name in listed}
