"""The pipeline's topic names, stated here only (no Kafka client needed to know them).

Debezium writes each source table's changes to <prefix>.public.<table> (its
topic.prefix, the schema, the table); each stage dead-letters to its own topic
under the same prefix, so that a bad source message gets one letter per stage
that skipped it.
"""
from __future__ import annotations

from core.source.tables import SOURCE_TABLES

SOURCE_SCHEMA = "public"
# Debezium's heartbeat.action.query writes this source table every 10 s; its changes carry a fresh source
# commit time even when the shop is idle (the metrics' lag in seconds), and nothing is replicated from it.
HEARTBEAT_TABLE = "cdc_heartbeat"


def table_topic(topic_prefix: str, table: str) -> str:
    """Debezium's topic of a source table: <prefix>.<schema>.<table>."""
    return f"{topic_prefix}.{SOURCE_SCHEMA}.{table}"


def source_topics(topic_prefix: str) -> list[str]:
    """The topics of the five source tables, in the catalog's order."""
    return [table_topic(topic_prefix, table) for table in SOURCE_TABLES]


def pipeline_topics(topic_prefix: str) -> list[str]:
    """Every topic Debezium writes for the stages: the source tables' and the heartbeat table's (created ahead)."""
    return [*source_topics(topic_prefix), heartbeat_topic(topic_prefix)]


def source_topic_tables(topic_prefix: str) -> dict[str, str]:
    """Each source table's topic -> the table (Debezium's heartbeat table is not among them)."""
    return {table_topic(topic_prefix, table): table for table in SOURCE_TABLES}


def heartbeat_topic(topic_prefix: str) -> str:
    """The topic of Debezium's writes to the heartbeat table (not Debezium's own __debezium-heartbeat topic)."""
    return table_topic(topic_prefix, HEARTBEAT_TABLE)


def consumer_deadletter_topic(topic_prefix: str) -> str:
    """Where the replication consumer dead-letters a message it cannot apply (DEADLETTER_TOPIC overrides it)."""
    return f"{topic_prefix}.deadletter"


def marts_deadletter_topic(topic_prefix: str) -> str:
    """Where the marts worker dead-letters (MARTS_DEADLETTER_TOPIC overrides it)."""
    return f"{topic_prefix}.marts.deadletter"
