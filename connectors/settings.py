"""The connector's settings: where Kafka Connect is and what goes into postgres-source.json."""
from __future__ import annotations

import os
from dataclasses import dataclass

from core.settings import (
    PG_DSN_EXAMPLE,
    DatabaseUrl,
    Env,
    connector_name,
    integer,
    required,
    slot_name,
    text,
    topic_partitions,
    topic_prefix,
    topic_replication_factor,
)


@dataclass(frozen=True)
class ConnectorSettings:
    """Kafka Connect and the values substituted into connectors/postgres-source.json."""

    connect_url: str
    name: str
    topic_prefix: str
    slot_name: str
    topic_partitions: int
    topic_replication_factor: int
    # The source as the Connect worker reaches it. Its password stays out of the rendered config (a config
    # provider reference, connectors/password_reference.py); the local stack hands it to its worker.
    database: DatabaseUrl
    timeout_seconds: int

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ConnectorSettings:
        return cls(
            connect_url=required(env, "CONNECT_URL", "http://127.0.0.1:8083").rstrip("/"),
            name=connector_name(env),
            topic_prefix=topic_prefix(env),
            slot_name=slot_name(env),
            topic_partitions=topic_partitions(env),
            topic_replication_factor=topic_replication_factor(env),
            database=source_database(env),
            timeout_seconds=integer(env, "CONNECTOR_TIMEOUT", 120),
        )


def source_database(env: Env = os.environ) -> DatabaseUrl:
    """The source as the Connect worker reaches it, with the connector's user."""
    # Connect may reach PostgreSQL under another name than the CLI does
    # (compose service names), and should use a replication-only user.
    dsn = text(env, "DEBEZIUM_PG_DSN", "") or required(env, "PG_DSN", PG_DSN_EXAMPLE)
    return DatabaseUrl.parse(dsn, variable="DEBEZIUM_PG_DSN/PG_DSN", default_port=5432)
