"""One reading of each source, and its recording into the exporter's metrics (no I/O but the given cursor)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.kafka_connect import ConnectorStatus
from core.metrics import MISSING, ExporterMetrics

SLOTS_QUERY = """
SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint
FROM pg_replication_slots ORDER BY slot_name
"""


@dataclass(frozen=True)
class SlotReading:
    slot: str
    active: bool
    retained_wal_bytes: int | None  # None: the slot holds no WAL position yet (restart_lsn is null)


def read_slots(cursor: Any) -> list[SlotReading]:
    """Every replication slot of the source (on a standby pg_current_wal_lsn() fails: not a source)."""
    cursor.execute(SLOTS_QUERY)
    return [SlotReading(str(name), bool(active), None if retained is None else int(retained))
            for name, active, retained in cursor.fetchall()]


def record_slots(metrics: ExporterMetrics, slots: Sequence[SlotReading], wanted: str) -> None:
    """Every slot's series; the connector's slot (`wanted`) is reported inactive when it does not exist."""
    clear_slots(metrics)
    for reading in slots:
        metrics.slot_active.labels(reading.slot).set(1 if reading.active else 0)
        if reading.retained_wal_bytes is not None:
            metrics.slot_retained_wal.labels(reading.slot).set(reading.retained_wal_bytes)
    if wanted not in {reading.slot for reading in slots}:
        metrics.slot_active.labels(wanted).set(0)


def clear_slots(metrics: ExporterMetrics) -> None:
    metrics.slot_active.clear()
    metrics.slot_retained_wal.clear()


def record_connector(metrics: ExporterMetrics, name: str, status: ConnectorStatus | None) -> None:
    """The connector's state and its tasks' (None: no such connector, MISSING, no tasks)."""
    clear_connector(metrics)
    if status is None:
        metrics.set_connector_state(name, MISSING)
        return
    metrics.set_connector_state(name, status.connector_state)
    metrics.set_task_states(name, dict(zip(status.task_ids, status.task_states, strict=True)))


def clear_connector(metrics: ExporterMetrics) -> None:
    metrics.connector_state.clear()
    metrics.task_state.clear()
