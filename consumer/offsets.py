"""Commit a flushed batch's offsets (synchronously, explicitly) and read lag per partition."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
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
        return max(self.high - (self.committed or 0), 0)


def partition_lags(consumer: Consumer, topics: Iterable[str], timeout: float = 10.0) -> list[PartitionLag]:
    """Committed offset vs high watermark of every partition of `topics`, for the consumer's group."""
    partitions = []
    for topic in topics:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        for partition in sorted(metadata.partitions if metadata and metadata.partitions else []):
            partitions.append(TopicPartition(topic, partition))
    committed = consumer.committed(partitions, timeout=timeout) if partitions else []
    highs = end_offsets(consumer, partitions, timeout)
    lags = []
    for tp in committed:
        offset = None if tp.offset == OFFSET_INVALID or tp.offset < 0 else tp.offset
        lags.append(PartitionLag(tp.topic, tp.partition, offset, highs[(tp.topic, tp.partition)]))
    return lags


def end_offsets(consumer: Consumer, partitions: Sequence[TopicPartition], timeout: float) -> dict[tuple[str, int], int]:
    """Each partition's high watermark as a fetch response carries it (assigns, reads, unassigns).

    Not the ListOffsets answer alone: the tansu broker answers it with the
    last record batch's base offset + 1, short of the end whenever that batch
    holds several messages. Reading the partition from there brings a fetch
    response with the true high watermark (on Apache Kafka both agree).
    """
    listed = {}
    for tp in partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=timeout)
        listed[(tp.topic, tp.partition)] = high
    if not listed:
        return {}
    consumer.assign([TopicPartition(topic, partition, max(high - 1, 0))
                     for (topic, partition), high in listed.items()])
    fetched: dict[tuple[str, int], int] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(fetched) < len(listed) and time.monotonic() < deadline:
            consumer.consume(1000, timeout=0.1)
            for topic, partition in listed.keys() - fetched.keys():
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
                if high >= 0:  # negative until a fetch response for the partition arrived
                    fetched[(topic, partition)] = high
    finally:
        consumer.unassign()
    return {key: max(high, fetched.get(key, high)) for key, high in listed.items()}


def render_lags(lags: Iterable[PartitionLag]) -> str:
    header = f"{'topic':<32} {'partition':>9} {'committed':>10} {'high':>10} {'lag':>8}"
    lines = [header, "-" * len(header)]
    for item in lags:
        committed = "-" if item.committed is None else str(item.committed)
        lines.append(f"{item.topic:<32} {item.partition:>9} {committed:>10} {item.high:>10} {item.lag:>8}")
    return "\n".join(lines)
