"""The marts worker's heartbeat (core.health): batches applied, and the events waiting to be applied.

Waiting = for each assigned source partition, the events between the last
offset this worker applied (marts.apply.store positions) and the partition's high
watermark as Faust's consumer last saw it. A partition without a known
high watermark yet counts as nothing waiting. Paused by a source schema
change (marts.pause), the beats say so: `cdc health marts` is unhealthy.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from core.health import HeartbeatWriter
from marts.transport import Positions

log = logging.getLogger(__name__)


class MartsHeartbeat:
    def __init__(self, path: Path, topics: Collection[str], positions: Positions) -> None:
        self.writer = HeartbeatWriter(path, "marts")
        self.topics = topics
        self.positions = positions

    def batch_applied(self) -> None:
        self.writer.batch_committed()

    def paused(self, reason: str) -> None:
        """The marts apply nothing from now on (marts.pause): every beat says why."""
        self.writer.paused = reason

    def tick(self, consumer: Any) -> dict[tuple[str, int], int] | None:
        """Call from a timer with Faust's consumer (app.consumer): writes a beat; returns the events waiting per
        assigned source partition (None if Faust's consumer cannot tell)."""
        try:
            highs = {(tp.topic, tp.partition): consumer.highwater(tp)
                     for tp in consumer.assignment() if tp.topic in self.topics}
        except Exception as exc:  # noqa: BLE001 - the heartbeat must never stop the worker
            log.debug("no high watermarks for the heartbeat: %s", exc)
            return None
        waiting = unapplied_per_partition(highs, self.positions())
        self.writer.beat(sum(waiting.values()))
        return waiting


def unapplied(highs: Mapping[tuple[str, int], int | None], applied: Mapping[tuple[str, int], int]) -> int:
    """Events up to each high watermark (the next offset to be written) not applied yet."""
    return sum(unapplied_per_partition(highs, applied).values())


def unapplied_per_partition(highs: Mapping[tuple[str, int], int | None],
                            applied: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Per partition with a known high watermark: the events up to it not applied yet."""
    waiting = {}
    for where, high in highs.items():
        if high is None:
            continue
        last = applied.get(where)
        waiting[where] = max(high - (last + 1 if last is not None else 0), 0)
    return waiting
