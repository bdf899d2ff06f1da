"""Two changes to Faust's aiokafka transport: a shorter fetch wait, and start positions from MySQL.

Where reading resumes: MySQL, not Kafka. The marts record the last applied
offset of every partition in the same transaction as the data (mart_offsets),
so on every assignment each source partition is sought to the offset after
the one stored there, or to its log start when nothing of it was applied.
Kafka's committed offsets are only a progress report then: a commit that
ran ahead of MySQL, offsets a broker kept across a topic's re-creation, or a
group reset by hand can never make the worker skip an event. The positions
come from the worker's own record (read from MySQL at start, advanced by its
commits), so a rebalance during a MySQL outage needs no query; it may be
behind another worker's progress, which only means replays, skipped in MySQL.

A stored position below the partition's log start means the events between
were deleted by retention before they were applied: the worker stops with
RetentionGapError instead of skipping them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from marts.errors import RetentionGapError

Positions = Callable[[], Mapping[tuple[str, int], int]]  # (topic, partition) -> last applied offset


def configure(app: faust.App, *, fetch_wait_ms: int, topics: set[str], positions: Positions) -> None:
    """`topics`: the source topics, whose partitions start from `positions`."""
    app.marts_fetch_wait_ms = fetch_wait_ms  # type: ignore[attr-defined]
    app.marts_source_topics = frozenset(topics)  # type: ignore[attr-defined]
    app.marts_positions = positions  # type: ignore[attr-defined]
    _wrap_once("_create_worker_consumer", _create_worker_consumer)
    _wrap_once("seek_to_committed", _seek_to_committed)


def _wrap_once(name: str, make: Callable[[Any], Any]) -> None:
    thread = faust_aiokafka.AIOKafkaConsumerThread
    original = getattr(thread, name)
    if getattr(original, "marts_wrapped", False):
        return
    wrapped = make(original)
    wrapped.marts_wrapped = True
    setattr(thread, name, wrapped)


def _create_worker_consumer(original: Any) -> Any:
    """Faust creates its aiokafka consumer with fetch_max_wait_ms=1500 and no setting for it."""

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, "marts_fetch_wait_ms", None)
        if wait is not None and hasattr(consumer, "_fetch_max_wait_ms"):
            consumer._fetch_max_wait_ms = wait
        return consumer

    return create


def _seek_to_committed(original: Any) -> Any:
    async def seek(self: Any) -> Mapping[Any, int]:
        committed = dict(await original(self))  # every assigned partition, Faust's internal topics too
        positions = getattr(self.app, "marts_positions", None)
        if positions is None:
            return committed
        consumer = self._ensure_consumer()
        sources = [tp for tp in consumer.assignment() if tp.topic in self.app.marts_source_topics]
        committed.update(await self.call_thread(_seek_to_positions, consumer, sources, positions()))
        return committed

    return seek


async def _seek_to_positions(consumer: Any, assigned: list[Any],
                             positions: Mapping[tuple[str, int], int]) -> dict[Any, int]:
    """Seek each source partition to the offset after its last applied one, or to its log start."""
    if not assigned:
        return {}
    starts = await consumer.beginning_offsets(assigned)
    sought = {}
    for tp in assigned:
        offset = start_offset(f"{tp.topic}[{tp.partition}]", positions.get((tp.topic, tp.partition)), starts[tp])
        consumer.seek(tp, offset)
        sought[tp] = offset
    return sought


def start_offset(where: str, applied: int | None, log_start: int) -> int:
    """Where reading resumes: after the last applied offset (None: nothing applied), which retention must
    not have deleted; raises RetentionGapError."""
    offset = log_start if applied is None else applied + 1
    if offset < log_start or (applied is None and log_start > 0):
        raise RetentionGapError(
            f"{where}: the marts applied up to offset {'nothing' if applied is None else applied}, but the "
            f"partition now starts at {log_start}: the events between were deleted by retention before they "
            f"were applied. Rebuild the marts from a new snapshot: a new connector (CONNECTOR_NAME, SLOT_NAME) "
            f"snapshots the source again, then `cdc marts --rebuild` and `cdc marts`.")
    return offset
