"""Configuration: read from the environment once, into one frozen object per component.

Every component takes its settings object as an argument; nothing reads
os.environ behind the caller's back, so tests build settings from a dict.
Secrets are kept out of ``repr`` (and so out of logs).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import ConfigError
from core.limits import MYSQL_MAX_ALLOWED_PACKET

Env = Mapping[str, str]

DEFAULT_TOPIC_PREFIX = "shop"
DEFAULT_CONNECTOR_NAME = "shop-postgres"
MYSQL_IO_TIMEOUT_S = 60  # a statement of a worker waits at most this long for the server
SOURCE_TABLES = ("users", "product_categories", "products", "orders", "order_details")


def required(env: Env, name: str, example: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{name} is not set (example: {name}={example}). "
            "For a local stack run: set -a; . DIR/stack.env; set +a"
        )
    return value


def integer(env: Env, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def connector_name(env: Env) -> str:
    return env.get("CONNECTOR_NAME", "").strip() or DEFAULT_CONNECTOR_NAME


@dataclass(frozen=True)
class DatabaseUrl:
    """The parts of a ``scheme://user:password@host:port/database`` URL."""

    host: str
    port: int
    user: str
    database: str
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str, *, variable: str, default_port: int) -> DatabaseUrl:
        parts = urlsplit(url)
        database = parts.path.lstrip("/")
        if not parts.hostname or not database:
            raise ConfigError(f"{variable} must look like scheme://user:password@host:port/database")
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            user=unquote(parts.username or ""),
            database=database,
            password=unquote(parts.password or ""),
        )


@dataclass(frozen=True)
class SourceSettings:
    """The PostgreSQL source database (schema, generator, verification)."""

    dsn: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> SourceSettings:
        dsn = required(env, "PG_DSN", "postgresql://postgres@127.0.0.1:5432/shop")
        DatabaseUrl.parse(dsn, variable="PG_DSN", default_port=5432)
        return cls(dsn=dsn)


@dataclass(frozen=True)
class MySqlSettings:
    """The MySQL/MariaDB database that holds the replica and the marts."""

    url: DatabaseUrl

    @classmethod
    def from_env(cls, env: Env = os.environ) -> MySqlSettings:
        raw = required(env, "MYSQL_URL", "mysql://root@127.0.0.1:3306/shop")
        return cls(url=DatabaseUrl.parse(raw, variable="MYSQL_URL", default_port=3306))

    def connect_kwargs(self) -> dict[str, object]:
        return {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.user,
            "password": self.url.password,
            "database": self.url.database,
        }

    def worker_kwargs(self, connect_timeout: float = 10.0) -> dict[str, object]:
        """A worker's connection: transactions by hand, and no wait without end on a server that hangs."""
        return {**self.connect_kwargs(), "charset": "utf8mb4", "autocommit": False,
                "connect_timeout": connect_timeout, "read_timeout": MYSQL_IO_TIMEOUT_S,
                "write_timeout": MYSQL_IO_TIMEOUT_S, "max_allowed_packet": MYSQL_MAX_ALLOWED_PACKET}


@dataclass(frozen=True)
class KafkaSettings:
    """The Kafka-protocol broker and the topic naming Debezium uses."""

    bootstrap: str
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    replication_factor: int = 1  # of the topics the stages create (their dead-letter topics)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> KafkaSettings:
        return cls(
            bootstrap=required(env, "KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic_prefix=env.get("TOPIC_PREFIX", "").strip() or DEFAULT_TOPIC_PREFIX,
            replication_factor=integer(env, "TOPIC_REPLICATION_FACTOR", 1),
        )

    def table_topic(self, table: str) -> str:
        """Debezium's topic for a source table: <prefix>.<schema>.<table>."""
        return f"{self.topic_prefix}.public.{table}"


@dataclass(frozen=True)
class ConnectorWatchSettings:
    """The workers' watch on the connector (core.connector_watch): which one, where, how often."""

    connect_url: str
    name: str
    interval_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ConnectorWatchSettings | None:
        """None when CONNECT_URL is not set: a worker may run without access to Kafka Connect."""
        url = env.get("CONNECT_URL", "").strip().rstrip("/")
        if not url:
            return None
        return cls(connect_url=url, name=connector_name(env),
                   interval_seconds=float(integer(env, "CONNECTOR_WATCH_SECONDS", 5)))


# The heartbeat file of each worker (core.health): one variable per worker, so that one environment
# (compose's, or a local stack's) can name both and `cdc health WORKER` finds the right one.
HEALTH_FILE_VARIABLES = {"consumer": "CONSUMER_HEALTH_FILE", "marts": "MARTS_HEALTH_FILE"}


@dataclass(frozen=True)
class HealthSettings:
    """Where a worker records its progress heartbeat, and where `cdc health` reads it."""

    file: Path

    @classmethod
    def from_env(cls, worker: str, env: Env = os.environ) -> HealthSettings:
        raw = env.get(HEALTH_FILE_VARIABLES[worker], "").strip()
        return cls(file=Path(raw) if raw else Path(tempfile.gettempdir()) / f"cdc-{worker}-health.json")
