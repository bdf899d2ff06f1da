"""Commit a flushed batch's offsets (synchronously, explicitly) and read lag per partition."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaException, TopicPartition

log = logging.getLogger(__name__)

Offsets = Mapping[tuple[str, int], int]  # (topic, partition) -> last applied offset


def next_offsets(applied: Offsets) -> list[TopicPartition]:
    """Kafka commits the offset of the next message to read: last applied + 1."""
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in sorted(applied.items())]


def commit(consumer: Consumer, applied: Offsets) -> bool:
    """Commit synchronously; False (logged) if the broker refused, e.g. during a rebalance.

    A failed commit loses nothing: the changes are in MySQL already, and
    re-reading them later is idempotent.
    """
    if not applied:
        return True
    try:
        consumer.commit(offsets=next_offsets(applied), asynchronous=False)
    except KafkaException as exc:
        log.warning("offset commit failed (the changes will be re-read and re-applied idempotently): %s", exc)
        return False
    return True


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: nothing committed yet
    high: int

    @property
    def lag(self) -> int:
        # Clamped: the tansu broker may report a high watermark a little
        # behind the last offset it serves.
        return max(self.high - (self.committed or 0), 0)


def partition_lags(consumer: Consumer, topics: Iterable[str], timeout: float = 10.0) -> list[PartitionLag]:
    """Committed offset vs high watermark of every partition of `topics`, for the consumer's group."""
    partitions = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        for partition in sorted(metadata.partitions if metadata and metadata.partitions else []):
            partitions.append(TopicPartition(topic, partition))
    committed = consumer.committed(partitions, timeout=timeout) if partitions else []
    lags = []
    for tp in committed:
        _, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=timeout)
        offset = None if tp.offset == OFFSET_INVALID or tp.offset < 0 else tp.offset
        lags.append(PartitionLag(tp.topic, tp.partition, offset, high))
    return lags


def render_lags(lags: Iterable[PartitionLag]) -> str:
    header = f"{'topic':<32} {'partition':>9} {'committed':>10} {'high':>10} {'lag':>8}"
    lines = [header, "-" * len(header)]
    for item in lags:
        committed = "-" if item.committed is None else str(item.committed)
        lines.append(f"{item.topic:<32} {item.partition:>9} {committed:>10} {item.high:>10} {item.lag:>8}")
    return "\n".join(lines)
