"""A stand-in for a Kafka consumer in unit tests: the committed offsets and log starts it reports are given."""
from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import OFFSET_INVALID, TopicPartition


class FakeConsumer:
    """What check_assignment asks a consumer: committed offsets and log starts."""

    def __init__(self, committed: dict[tuple[str, int], int], log_starts: dict[tuple[str, int], int]) -> None:
        self._committed = committed
        self._log_starts = log_starts

    def committed(self, partitions: Sequence[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self._committed.get((tp.topic, tp.partition), OFFSET_INVALID))
                for tp in partitions]

    def get_watermark_offsets(self, partition: TopicPartition, timeout: float) -> tuple[int, int]:
        return self._log_starts[(partition.topic, partition.partition)], 10_000
