"""Where `cdc top` reads the pipeline's metrics, and what it calls failing."""
from __future__ import annotations

import os
from dataclasses import dataclass

from core.settings import Env, text

CONSUMER = "consumer"
MARTS = "marts"
EXPORTER = "exporter"
# Per endpoint: its variable (written into stack.env by `cdc local up`) and the URL compose publishes it on.
ENDPOINT_VARIABLES = {
    CONSUMER: ("CONSUMER_METRICS_URL", "http://127.0.0.1:9108/metrics"),
    MARTS: ("MARTS_METRICS_URL", "http://127.0.0.1:9109/metrics"),
    EXPORTER: ("EXPORTER_METRICS_URL", "http://127.0.0.1:9110/metrics"),
}

DEFAULT_MAX_LAG_SECONDS = 60.0
DEFAULT_MAX_WAL_BYTES = 1024**3  # a quarter of max_slot_wal_keep_size (core/limits.py): time to act before it is lost


@dataclass(frozen=True)
class TopSettings:
    """The three metrics URLs; unset, the ones compose publishes on the host."""

    urls: dict[str, str]

    @classmethod
    def from_env(cls, env: Env = os.environ) -> TopSettings:
        return cls(urls={endpoint: text(env, variable, default)
                         for endpoint, (variable, default) in ENDPOINT_VARIABLES.items()})


@dataclass(frozen=True)
class Limits:
    """Above these the pipeline counts as failing."""

    max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS  # replica lag and mart freshness
    max_wal_bytes: float = DEFAULT_MAX_WAL_BYTES  # WAL a replication slot retains
