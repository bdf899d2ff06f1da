"""MartsSettings: everything `cdc marts` needs (the shared Kafka/MySQL settings and MARTS_*), read once."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import (
    DEFAULT_TOPIC_PARTITIONS,
    DEFAULT_TOPIC_PREFIX,
    Env,
    HealthSettings,
    KafkaSettings,
    LogSettings,
    MySqlSettings,
    integer,
    positive_number,
    text,
    topic_partitions,
)
from core.topic_names import marts_deadletter_topic


@dataclass(frozen=True)
class MartsSettings:
    """app_id is the Kafka consumer group (of the one active worker: core.leader)."""

    kafka: KafkaSettings
    mysql: MySqlSettings
    app_id: str = "cdc-marts"
    # Messages per fetch at most (Faust's max_poll_records): a fetch is a batch, applied as soon as it is read,
    # in one MySQL transaction (with more when a source transaction spans fetches).
    batch_size: int = 2000
    data_dir: Path = Path(tempfile.gettempdir()) / "cdc-marts"  # with MARTS_DATA_DIR unset: this / app_id
    session_timeout: float = 6.0  # broker session / rebalance timeouts (seconds)
    partitions: int = DEFAULT_TOPIC_PARTITIONS  # of every source topic
    # How long the broker may hold a fetch when no new message is there (Faust hardcodes 1500 ms,
    # which the local broker takes in full: ~0.4 s median, 0.75 s worst added to freshness).
    fetch_wait_ms: int = 100
    # Its own topic, not the consumer's: a bad source message gets one letter per stage that skipped it.
    deadletter_topic: str = marts_deadletter_topic(DEFAULT_TOPIC_PREFIX)
    health: HealthSettings = field(default_factory=lambda: HealthSettings.from_env("marts", {}))
    log: LogSettings = LogSettings()
    metrics_port: int = 0  # Prometheus endpoint (core.metrics, stage marts); 0: off
    # Loopback unless asked: the endpoint has no authentication. Compose sets 0.0.0.0 (its own network).
    metrics_host: str = "127.0.0.1"

    @classmethod
    def from_env(cls, env: Env = os.environ) -> MartsSettings:
        kafka = KafkaSettings.from_env(env)
        app_id = text(env, "MARTS_APP_ID", cls.app_id)
        data_dir = text(env, "MARTS_DATA_DIR", "")
        return cls(
            kafka=kafka,
            mysql=MySqlSettings.from_env(env),
            app_id=app_id,
            batch_size=integer(env, "MARTS_BATCH_SIZE", cls.batch_size, minimum=1),
            data_dir=Path(data_dir) if data_dir else cls.data_dir / app_id,
            session_timeout=positive_number(env, "MARTS_SESSION_TIMEOUT", cls.session_timeout),
            partitions=topic_partitions(env),
            fetch_wait_ms=integer(env, "MARTS_FETCH_WAIT_MS", cls.fetch_wait_ms, minimum=1),
            deadletter_topic=text(env, "MARTS_DEADLETTER_TOPIC", marts_deadletter_topic(kafka.topic_prefix)),
            health=HealthSettings.from_env("marts", env),
            log=LogSettings.from_env(env),
            metrics_port=integer(env, "MARTS_METRICS_PORT", cls.metrics_port, minimum=0),
            metrics_host=text(env, "MARTS_METRICS_HOST", cls.metrics_host),
        )
