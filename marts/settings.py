"""The marts worker's own settings (MARTS_*), read once into a frozen object."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from core.settings import DEFAULT_TOPIC_PREFIX, Env, HealthSettings

DEFAULT_APP_ID = "cdc-marts"


def _number(env: Env, name: str, default: float, kind: type = float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class MartsSettings:
    """app_id is the Kafka consumer group; several workers with one app_id share the partitions."""

    app_id: str = DEFAULT_APP_ID
    batch_size: int = 500  # events per MySQL transaction at most
    batch_seconds: float = 0.2  # how long a batch waits to fill up
    data_dir: Path = Path(tempfile.gettempdir()) / "cdc-marts"
    session_timeout: float = 6.0  # broker session / rebalance timeouts (seconds)
    partitions: int = 4  # of every source topic
    # How long the broker may hold a fetch when no new message is there (Faust hardcodes 1500 ms,
    # which the local broker takes in full: ~0.4 s median, 0.75 s worst added to freshness).
    fetch_wait_ms: int = 100
    # Its own topic, not the consumer's: a bad source message gets one letter per stage that skipped it.
    deadletter_topic: str = f"{DEFAULT_TOPIC_PREFIX}.marts.deadletter"
    health: HealthSettings = field(default_factory=lambda: HealthSettings.from_env("marts", {}))

    @classmethod
    def from_env(cls, env: Env = os.environ) -> MartsSettings:
        app_id = env.get("MARTS_APP_ID", "").strip() or DEFAULT_APP_ID
        data_dir = env.get("MARTS_DATA_DIR", "").strip()
        prefix = env.get("TOPIC_PREFIX", "").strip() or DEFAULT_TOPIC_PREFIX
        return cls(
            app_id=app_id,
            batch_size=int(_number(env, "MARTS_BATCH_SIZE", cls.batch_size, int)),
            batch_seconds=_number(env, "MARTS_BATCH_SECONDS", cls.batch_seconds),
            data_dir=Path(data_dir) if data_dir else cls.data_dir / app_id,
            session_timeout=_number(env, "MARTS_SESSION_TIMEOUT", cls.session_timeout),
            partitions=int(_number(env, "TOPIC_PARTITIONS", cls.partitions, int)),
            fetch_wait_ms=int(_number(env, "MARTS_FETCH_WAIT_MS", cls.fetch_wait_ms, int)),
            deadletter_topic=env.get("MARTS_DEADLETTER_TOPIC", "").strip() or f"{prefix}.marts.deadletter",
            health=HealthSettings.from_env("marts", env),
        )
