"""Configuration: read from the environment once, into one frozen object per component.

Every component takes its settings object as an argument; nothing reads
os.environ behind the caller's back, so tests build settings from a dict.
Secrets are kept out of ``repr`` (and so out of logs).
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from core.errors import ConfigError
from core.limits import MYSQL_MAX_ALLOWED_PACKET
from core.topic_names import table_topic

Env = Mapping[str, str]

DEFAULT_TOPIC_PREFIX = "shop"
DEFAULT_TOPIC_PARTITIONS = 4
DEFAULT_TOPIC_REPLICATION_FACTOR = 1
DEFAULT_CONNECTOR_NAME = "shop-postgres"
DEFAULT_SLOT_NAME = "cdc_shop"
DEFAULT_LOG_LEVEL = "INFO"
PG_DSN_EXAMPLE = "postgresql://postgres@127.0.0.1:5432/shop"
MYSQL_IO_TIMEOUT_S = 60  # a statement of a worker waits at most this long for the server


# --- reading one variable: an unset or blank variable takes the default -------------------------

def required(env: Env, name: str, example: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{name} is not set (example: {name}={example}). "
            "For a local stack run: set -a; . DIR/stack.env; set +a"
        )
    return value


def text(env: Env, name: str, default: str) -> str:
    return env.get(name, "").strip() or default


def integer(env: Env, name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def positive_number(env: Env, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:  # NaN too
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


# --- variables more than one component reads --------------------------------------------------

def connector_name(env: Env) -> str:
    return text(env, "CONNECTOR_NAME", DEFAULT_CONNECTOR_NAME)


def slot_name(env: Env) -> str:
    """The connector's PostgreSQL replication slot."""
    return text(env, "SLOT_NAME", DEFAULT_SLOT_NAME)


def topic_prefix(env: Env) -> str:
    """Debezium's topic.prefix, which every topic name starts with (core.topic_names)."""
    return text(env, "TOPIC_PREFIX", DEFAULT_TOPIC_PREFIX)


def topic_partitions(env: Env) -> int:
    """The partitions of every source topic: created with them, and the marts' Faust tables need their count."""
    return integer(env, "TOPIC_PARTITIONS", DEFAULT_TOPIC_PARTITIONS, minimum=1)


def topic_replication_factor(env: Env) -> int:
    """Of every topic the pipeline creates (the source topics, the dead-letter topics)."""
    return integer(env, "TOPIC_REPLICATION_FACTOR", DEFAULT_TOPIC_REPLICATION_FACTOR)


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

    def to_url(self, scheme: str) -> str:
        """The URL of these parts, user and password percent-encoded (``parse`` reads it back unchanged)."""
        credentials = quote(self.user, safe="")
        if self.password:
            credentials += ":" + quote(self.password, safe="")
        return f"{scheme}://{credentials}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class SourceSettings:
    """The PostgreSQL source database (schema, generator, verification)."""

    dsn: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Env = os.environ) -> SourceSettings:
        dsn = required(env, "PG_DSN", PG_DSN_EXAMPLE)
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

    def on_database(self, database: str) -> MySqlSettings:
        """The same server and account, another database."""
        return MySqlSettings(url=replace(self.url, database=database))

    def to_url(self) -> str:
        """The MYSQL_URL value of these settings."""
        return self.url.to_url("mysql")

    def connect_kwargs(self) -> dict[str, object]:
        return {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.user,
            "password": self.url.password,
            "database": self.url.database,
        }

    def worker_kwargs(self, connect_timeout: float = 10.0,
                      io_timeout: float = MYSQL_IO_TIMEOUT_S) -> dict[str, object]:
        """A worker's connection: transactions by hand, and no wait without end on a server that hangs."""
        return {**self.connect_kwargs(), "charset": "utf8mb4", "autocommit": False,
                "connect_timeout": connect_timeout, "read_timeout": io_timeout,
                "write_timeout": io_timeout, "max_allowed_packet": MYSQL_MAX_ALLOWED_PACKET}


@dataclass(frozen=True)
class KafkaSettings:
    """The Kafka-protocol broker and the topic naming Debezium uses."""

    bootstrap: str
    topic_prefix: str = DEFAULT_TOPIC_PREFIX
    # Of the topics the stages create (their dead-letter topics).
    replication_factor: int = DEFAULT_TOPIC_REPLICATION_FACTOR

    @classmethod
    def from_env(cls, env: Env = os.environ) -> KafkaSettings:
        return cls(
            bootstrap=required(env, "KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic_prefix=topic_prefix(env),
            replication_factor=topic_replication_factor(env),
        )

    def table_topic(self, table: str) -> str:
        return table_topic(self.topic_prefix, table)


@dataclass(frozen=True)
class ConnectorWatchSettings:
    """The workers' watch on the connector (core.connector_watch): which one, where, how often."""

    connect_url: str
    name: str
    interval_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ConnectorWatchSettings | None:
        """None when CONNECT_URL is not set: a worker may run without access to Kafka Connect."""
        url = text(env, "CONNECT_URL", "").rstrip("/")
        if not url:
            return None
        return cls(connect_url=url, name=connector_name(env),
                   interval_seconds=float(integer(env, "CONNECTOR_WATCH_SECONDS", int(cls.interval_seconds))))


# The heartbeat file of each worker (core.health): one variable per worker, so that one environment
# (compose's, or a local stack's) can name both and `cdc health WORKER` finds the right one.
HEALTH_FILE_VARIABLES = {"consumer": "CONSUMER_HEALTH_FILE", "marts": "MARTS_HEALTH_FILE"}


@dataclass(frozen=True)
class HealthSettings:
    """Where a worker records its progress heartbeat, and where `cdc health` reads it."""

    file: Path

    @classmethod
    def from_env(cls, worker: str, env: Env = os.environ) -> HealthSettings:
        raw = text(env, HEALTH_FILE_VARIABLES[worker], "")
        return cls(file=Path(raw) if raw else Path(tempfile.gettempdir()) / f"cdc-{worker}-health.json")


@dataclass(frozen=True)
class LogSettings:
    """How much the `cdc` command and the workers it runs log (LOG_LEVEL: a logging level name)."""

    level: str = DEFAULT_LOG_LEVEL  # upper case, e.g. INFO

    @classmethod
    def from_env(cls, env: Env = os.environ) -> LogSettings:
        return cls(level=text(env, "LOG_LEVEL", cls.level).upper())

    @property
    def level_number(self) -> int:
        """The logging module's level; an unknown name logs at INFO."""
        number = getattr(logging, self.level, None)
        return number if isinstance(number, int) else logging.INFO
