"""The pipeline's topic names, stated here only (no Kafka client needed to know them).

Debezium writes each source table's changes to <prefix>.public.<table> (its
topic.prefix, the schema, the table); each stage dead-letters to its own topic
under the same prefix, so that a bad source message gets one letter per stage
that skipped it.
"""
from __future__ import annotations

import re

from core.source.tables import SOURCE_TABLES

SOURCE_SCHEMA = "public"
# Debezium's heartbeat.action.query updates this table every heartbeat: its changes are source
# transactions like any other, so they keep the stages' watermarks moving while the shop is idle.
HEARTBEAT_TABLE = "cdc_heartbeat"
# An event trigger inserts a row here in the transaction of every ALTER/CREATE TABLE (migration 0003): the
# table's complete new shape, captured in commit order with the data.
SCHEMA_CHANGES_TABLE = "cdc_schema_changes"
# Debezium's signal table (migration 0004): `cdc backfill` asks for an incremental snapshot there, and the replica
# recreates a paused table at that point of the stream.
SIGNALS_TABLE = "cdc_signals"


def table_topic(topic_prefix: str, table: str) -> str:
    """Debezium's topic of a source table: <prefix>.<schema>.<table>."""
    return f"{topic_prefix}.{SOURCE_SCHEMA}.{table}"


def topic_table(topic_prefix: str, topic: str) -> str | None:
    """The source table whose topic this is (table_topic's inverse); None for another topic."""
    prefix = table_topic(topic_prefix, "")
    return topic.removeprefix(prefix) if topic.startswith(prefix) else None


def source_topics(topic_prefix: str) -> list[str]:
    """The topics of the five source tables, in the catalog's order."""
    return [table_topic(topic_prefix, table) for table in SOURCE_TABLES]


def pipeline_topics(topic_prefix: str) -> list[str]:
    """Every topic Debezium writes for the stages: the source tables' and the heartbeat table's (created ahead)."""
    return [*source_topics(topic_prefix), heartbeat_topic(topic_prefix)]


def consumed_topics(topic_prefix: str) -> list[str]:
    """What each stage reads: the tables' topics, the heartbeat table's and the transaction topic. Their ids
    are recorded together (core.generations): a new broker recreates them all, positions in each included."""
    return [*pipeline_topics(topic_prefix), transaction_topic(topic_prefix)]


def source_topic_tables(topic_prefix: str) -> dict[str, str]:
    """Each source table's topic -> the table (Debezium's heartbeat table is not among them)."""
    return {table_topic(topic_prefix, table): table for table in SOURCE_TABLES}


def heartbeat_topic(topic_prefix: str) -> str:
    """The heartbeat table's topic (core.transactions: its transactions move the watermarks at idle)."""
    return table_topic(topic_prefix, HEARTBEAT_TABLE)


def schema_changes_topic(topic_prefix: str) -> str:
    """The schema-changes table's topic: one partition (core.topics), so the DDL history is in order."""
    return table_topic(topic_prefix, SCHEMA_CHANGES_TABLE)


def transaction_topic(topic_prefix: str) -> str:
    """Debezium's BEGIN/END events (provide.transaction.metadata): one partition, so in commit order."""
    return f"{topic_prefix}.transaction"


def table_topics_pattern(topic_prefix: str) -> str:
    """A subscription (librdkafka regex) to every table topic, of tables added to the publication later too."""
    return "^" + re.escape(f"{topic_prefix}.{SOURCE_SCHEMA}.") + ".*"


def data_collection(topic: str, topic_prefix: str) -> str:
    """A table topic's name in Debezium's transaction metadata: "public.orders"."""
    return topic.removeprefix(f"{topic_prefix}.")


def signals_topic(topic_prefix: str) -> str:
    """The signal table's topic: the backfills asked for, in commit order with the data."""
    return table_topic(topic_prefix, SIGNALS_TABLE)


def notifications_topic(topic_prefix: str) -> str:
    """The connector's notifications (notification.sink.topic.name): the progress of `cdc backfill`."""
    return f"{topic_prefix}.notifications"


def consumer_deadletter_topic(topic_prefix: str) -> str:
    """Where the replication consumer dead-letters a message it cannot apply (DEADLETTER_TOPIC overrides it)."""
    return f"{topic_prefix}.deadletter"


def marts_deadletter_topic(topic_prefix: str) -> str:
    """Where the marts worker dead-letters (MARTS_DEADLETTER_TOPIC overrides it)."""
    return f"{topic_prefix}.marts.deadletter"
