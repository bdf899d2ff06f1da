"""consumer.health: what the consumer's heartbeat counts as waiting, and when it sees a batch committed."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from consumer.batch import Batch
from consumer.health import ConsumerHeartbeat, held, unread
from consumer.stats import Stats
from core.health import read_heartbeat

ORDERS = "shop.public.orders"
INVALID = -1001  # librdkafka's "no offset"


class FakeConsumer:
    """Assigned partitions with an application read position and a cached high watermark each."""

    def __init__(self, partitions: dict[int, tuple[int, int]]) -> None:
        self.partitions = partitions  # partition -> (position, high)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(ORDERS, p) for p in self.partitions]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, self.partitions[tp.partition][0]) for tp in partitions]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool) -> tuple[int, int]:
        assert cached  # a beat must not cost a broker round trip
        return 0, self.partitions[tp.partition][1]


@dataclass
class FakeReplicator:
    consumer: Any
    batch: Batch = field(default_factory=Batch)
    in_flight: tuple[Batch, Any] | None = None
    failed: Batch | None = None
    stats: Stats = field(default_factory=Stats)


def batch_of(messages: int) -> Batch:
    batch = Batch()
    batch.messages = messages
    return batch


def test_held_counts_the_filling_in_flight_and_failed_batches() -> None:
    replicator = FakeReplicator(FakeConsumer({}), batch_of(3), (batch_of(5), None), batch_of(7))

    assert held(replicator) == 15  # type: ignore[arg-type]


def test_unread_counts_messages_beyond_the_read_position() -> None:
    assert unread(FakeConsumer({0: (10, 25), 1: (40, 40)})) == 15  # type: ignore[arg-type]


def test_unread_skips_partitions_not_read_or_fetched_yet() -> None:
    assert unread(FakeConsumer({0: (INVALID, 25), 1: (5, INVALID)})) == 0  # type: ignore[arg-type]


def test_a_beat_records_held_plus_unread_as_waiting(tmp_path: Path) -> None:
    replicator = FakeReplicator(FakeConsumer({0: (10, 25)}), failed=batch_of(4))

    ConsumerHeartbeat(tmp_path / "hb.json").tick(replicator)  # type: ignore[arg-type]

    assert read_heartbeat(tmp_path / "hb.json").waiting == 19


def test_a_beat_after_a_committed_batch_records_its_time(tmp_path: Path) -> None:
    replicator = FakeReplicator(FakeConsumer({0: (10, 25)}))
    replicator.stats.flushed(messages=10, applied=10)

    ConsumerHeartbeat(tmp_path / "hb.json").tick(replicator)  # type: ignore[arg-type]

    beat = read_heartbeat(tmp_path / "hb.json")
    assert beat.last_batch_at is not None and beat.last_batch_at == beat.progress_at


def test_no_batch_committed_leaves_no_last_batch_time(tmp_path: Path) -> None:
    ConsumerHeartbeat(tmp_path / "hb.json").tick(FakeReplicator(FakeConsumer({})))  # type: ignore[arg-type]

    assert read_heartbeat(tmp_path / "hb.json").last_batch_at is None
