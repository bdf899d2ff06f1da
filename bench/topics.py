"""Reading the source topics beside the pipeline, as a benchmark's own observer."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition


def reader(bootstrap: str, **config: Any) -> Consumer:
    """A consumer in a group of its own that never commits: it only observes."""
    return Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-read-{uuid.uuid4().hex[:8]}",
                     "enable.auto.commit": False, **config})


def partitions(consumer: Consumer, topics: Sequence[str], offset: int | None = None) -> list[TopicPartition]:
    """Every partition of `topics` (at `offset` when given)."""
    metadata = consumer.list_topics(timeout=15)
    return [TopicPartition(topic, partition) if offset is None else TopicPartition(topic, partition, offset)
            for topic in topics for partition in metadata.topics[topic].partitions]
