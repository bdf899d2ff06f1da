"""Retention gaps: an assigned partition whose next change to read the broker has already deleted.

After an outage longer than the topics' retention the group's committed
offset lies below the partition's log start; `auto.offset.reset=earliest`
would then silently go on from the log start and the replica would miss the
deleted changes for good. A group that never committed on a partition whose
log no longer starts at 0 would miss them the same way. Both stop the
consumer with RetentionGapError, naming the way out: a new snapshot.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from consumer.errors import ConsumerError, RetentionGapError

Where = tuple[str, int]  # (topic, partition)

RECOVERY = """\
The replica cannot be repaired from these topics; rebuild it from a new snapshot:
  1. delete the old connector (DELETE $CONNECT_URL/connectors/<CONNECTOR_NAME>) and drop its replication slot
     (SELECT pg_drop_replication_slot('<SLOT_NAME>');) so PostgreSQL stops keeping WAL for it;
  2. set a new TOPIC_PREFIX, CONNECTOR_NAME and SLOT_NAME and run `cdc connectors apply`: Debezium snapshots
     every table again into new topics (whose logs start at 0);
  3. point MYSQL_URL at a new, empty database (or drop the replica tables and cdc_truncations: rows deleted
     during the gap would stay otherwise) and start `cdc consume` with the new TOPIC_PREFIX and a new CONSUMER_GROUP.
Keeping the old topics instead is only safe if the new CONSUMER_GROUP is committed at their end before the
new connector starts its snapshot (kafka-consumer-groups.sh --reset-offsets --to-latest)."""


@dataclass(frozen=True)
class Gap:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    log_start: int

    def describe(self) -> str:
        first = self.committed or 0
        read = "nothing committed" if self.committed is None else f"committed offset {self.committed}"
        return (f"{self.topic}[{self.partition}]: {read}, but the log starts at {self.log_start} "
                f"(offsets {first}..{self.log_start - 1} were deleted)")


def gap_error(gaps: Sequence[Gap], group: str) -> RetentionGapError:
    lines = "\n".join(f"  {gap.describe()}" for gap in gaps)
    return RetentionGapError(f"retention gap: consumer group {group} would skip changes the broker already deleted, "
                             f"and the replica would silently miss them; stopping.\n{lines}\n{RECOVERY}")


def find_gaps(committed: Mapping[Where, int | None], log_starts: Mapping[Where, int]) -> list[Gap]:
    """The partitions whose next offset to read (committed, or 0 if nothing is) is below their log start."""
    gaps = []
    for (topic, partition), log_start in sorted(log_starts.items()):
        offset = committed.get((topic, partition))
        if (offset or 0) < log_start:
            gaps.append(Gap(topic, partition, offset, log_start))
    return gaps


def check_assignment(consumer: Consumer, partitions: Sequence[TopicPartition], group: str,
                     timeout: float = 10.0, from_start: Collection[Where] = ()) -> None:
    """RetentionGapError if any of the assigned partitions has a gap.

    `from_start`: partitions read from their log start whatever the group committed there (as if it never had).
    """
    try:
        committed = {where: None if where in from_start else offset
                     for where, offset in committed_offsets(consumer, partitions, timeout).items()}
        log_starts = {(tp.topic, tp.partition): consumer.get_watermark_offsets(tp, timeout=timeout)[0]
                      for tp in partitions}
    except KafkaException as exc:
        raise ConsumerError(f"cannot read committed offsets and log starts to check for retention gaps: {exc}") from exc
    gaps = find_gaps(committed, log_starts)
    if gaps:
        raise gap_error(gaps, group)


def committed_offsets(consumer: Consumer, partitions: Sequence[TopicPartition],
                      timeout: float) -> dict[Where, int | None]:
    """The group's next offset to read per partition; None where it never committed."""
    asked = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
    return {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None
            for tp in consumer.committed(asked, timeout=timeout)}
