"""The consumer's heartbeat (core.health): batches committed, and the messages waiting for the replicator.

Waiting = what it holds uncommitted (the batch filling up, the one being
written, the one that failed) plus what its assigned partitions have beyond
its read position. The high watermarks are the cached ones of the last fetch
response, so a beat costs no broker round trip; a partition not fetched yet
counts as nothing waiting.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from confluent_kafka import Consumer, KafkaException

from core.health import HeartbeatWriter

if TYPE_CHECKING:
    from consumer.app import Replicator

log = logging.getLogger(__name__)


class ConsumerHeartbeat:
    def __init__(self, path: Path) -> None:
        self.writer = HeartbeatWriter(path, "consumer")
        self.batches = 0  # the replicator's committed batches at the last beat

    def standby(self) -> None:
        """While waiting for the stage's lock (core.leader): a standby's beat."""
        self.writer.standby()

    def tick(self, replicator: Replicator) -> None:
        """Call from the poll loop: writes a beat when one is due."""
        if not self.writer.due():
            return
        if replicator.stats.batches != self.batches:
            self.batches = replicator.stats.batches
            self.writer.batch_committed()
        self.writer.beat(held(replicator) + unread(replicator.consumer))


def held(replicator: Replicator) -> int:
    """Messages consumed and not committed yet."""
    in_flight = replicator.in_flight[0] if replicator.in_flight is not None else None
    return sum(batch.messages for batch in (replicator.batch, in_flight, replicator.failed) if batch is not None)


def unread(consumer: Consumer) -> int:
    """Messages in the assigned partitions beyond the read position (as far as the last fetch knows)."""
    try:
        assigned = consumer.assignment()
        positions = consumer.position(assigned) if assigned else []
        highs = [consumer.get_watermark_offsets(tp, cached=True)[1] for tp in positions]
    except KafkaException as exc:  # during a rebalance: the next beat counts again
        log.debug("no positions for the heartbeat: %s", exc)
        return 0
    # Both known once the partition was fetched and read from since its assignment.
    return sum(max(high - tp.offset, 0)
               for tp, high in zip(positions, highs, strict=True) if tp.offset >= 0 and high >= 0)
