"""ExporterSettings: what `cdc exporter` reads and where it serves, from the environment once."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from core.settings import PG_DSN_EXAMPLE, Env, connector_name, integer, positive_number, required, slot_name, text


@dataclass(frozen=True)
class ExporterSettings:
    pg_dsn: str = field(repr=False)  # any user: pg_replication_slots and pg_current_wal_lsn() need no privilege
    connect_url: str
    connector: str
    slot: str
    port: int = 9110
    # Loopback unless asked: the endpoint has no authentication. Compose sets 0.0.0.0 (its own network).
    host: str = "127.0.0.1"
    interval: float = 5.0  # seconds between readings

    @classmethod
    def from_env(cls, env: Env = os.environ) -> ExporterSettings:
        return cls(
            pg_dsn=required(env, "PG_DSN", PG_DSN_EXAMPLE),
            connect_url=required(env, "CONNECT_URL", "http://127.0.0.1:8083").rstrip("/"),
            connector=connector_name(env),
            slot=slot_name(env),
            port=integer(env, "EXPORTER_METRICS_PORT", cls.port, minimum=0),
            host=text(env, "EXPORTER_METRICS_HOST", cls.host),
            interval=positive_number(env, "EXPORTER_INTERVAL_SECONDS", cls.interval),
        )
