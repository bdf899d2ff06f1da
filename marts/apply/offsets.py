"""The last applied offset of each (topic, partition), stored in mart_offsets with the batch it ends.

An event at or below its partition's stored offset has been applied
already and is skipped (duplicates, replays after a crash, a partition
handed over to another worker mid-batch). AppliedOffsets is what one worker
knows of them: read at start, advanced by its own commits, never ahead of
MySQL (another worker may have gone further).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from core.mysql_dialect import inserted
from marts.apply.multirow import execute_rows
from marts.events import Event
from marts.schema import OFFSETS

Where = tuple[str, int]  # (topic, partition)


def where(event: Event) -> Where:
    return (event.position.topic, event.position.partition)


def read_all(cur: Any) -> dict[Where, int]:
    cur.execute(f"SELECT topic, partition_id, last_offset FROM {OFFSETS}")
    return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}


def load(cur: Any, partitions: Iterable[Where]) -> dict[Where, int]:
    """The stored offsets of `partitions`, locked for the rest of the transaction."""
    wanted = sorted(partitions)
    if not wanted:
        return {}
    condition = " OR ".join(["(topic = %s AND partition_id = %s)"] * len(wanted))
    cur.execute(f"SELECT topic, partition_id, last_offset FROM {OFFSETS} WHERE {condition} FOR UPDATE",
                [value for pair in wanted for value in pair])
    return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}


def not_applied(events: Sequence[Event], stored: dict[Where, int]) -> tuple[list[Event], dict[Where, Event]]:
    """The events past their partition's stored offset (and past the batch's own earlier ones), in
    order, and the newest of them per partition."""
    todo: list[Event] = []
    newest: dict[Where, Event] = {}
    for event in events:
        partition = where(event)
        last = newest[partition].position.offset if partition in newest else stored.get(partition, -1)
        if event.position.offset > last:
            newest[partition] = event
            todo.append(event)
    return todo, newest


def save(cur: Any, events: Iterable[Event]) -> None:
    """Store each event's offset as its partition's last applied one."""
    rows = [(e.position.topic, e.position.partition, e.position.offset, e.source_ts_ms) for e in events]
    if rows:
        execute_rows(
            cur, f"INSERT INTO {OFFSETS} (topic, partition_id, last_offset, source_ts_ms, applied_at) VALUES",
            "(%s, %s, %s, %s, UTC_TIMESTAMP(6))",
            f" ON DUPLICATE KEY UPDATE last_offset = {inserted('last_offset')},"
            f" source_ts_ms = {inserted('source_ts_ms')}, applied_at = {inserted('applied_at')}",
            sorted(rows),
        )


def save_positions(cur: Any, positions: dict[Where, int]) -> None:
    """Store where each partition is complete to (core.transactions' positions, as last offsets)."""
    rows = [(topic, partition, offset, None) for (topic, partition), offset in positions.items() if offset >= 0]
    if rows:
        execute_rows(
            cur, f"INSERT INTO {OFFSETS} (topic, partition_id, last_offset, source_ts_ms, applied_at) VALUES",
            "(%s, %s, %s, %s, UTC_TIMESTAMP(6))",
            f" ON DUPLICATE KEY UPDATE last_offset = GREATEST(last_offset, {inserted('last_offset')}),"
            f" applied_at = {inserted('applied_at')}",
            sorted(rows),
        )


class AppliedOffsets:
    """The last offset applied per (topic, partition), as this worker knows it (thread-safe)."""

    def __init__(self) -> None:
        self._offsets: dict[Where, int] = {}
        self._lock = threading.Lock()

    def replace(self, offsets: dict[Where, int]) -> None:
        with self._lock:
            self._offsets = dict(offsets)

    def snapshot(self) -> dict[Where, int]:
        with self._lock:
            return dict(self._offsets)

    def advance(self, events: Sequence[Event], positions: dict[Where, int] | None = None) -> None:
        with self._lock:
            for event in events:
                partition = where(event)
                self._offsets[partition] = max(self._offsets.get(partition, -1), event.position.offset)
            for partition, offset in (positions or {}).items():
                self._offsets[partition] = max(self._offsets.get(partition, -1), offset)
