"""Read the change events that arrive on a topic after a given moment."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from consumer.offsets import end_offsets


@dataclass(frozen=True)
class Event:
    topic: str
    partition: int
    key: Any
    value: Any  # None for a tombstone


class TopicTail:
    """Remembers a topic's end offsets at creation; `collect` reads only what came after."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"test-tail-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        })
        metadata = self.consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions) if metadata.topics[topic].partitions else []
        ends = end_offsets(self.consumer, [TopicPartition(topic, partition) for partition in partitions], 10)
        self.start = [TopicPartition(topic, partition, ends[(topic, partition)]) for partition in partitions]
        self.consumer.assign(self.start or [TopicPartition(topic, 0, 0)])

    def collect(self, until: Callable[[list[Event]], bool], timeout: float = 30.0) -> list[Event]:
        events: list[Event] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(events):
            message = self.consumer.poll(0.5)
            if message is None or message.error():
                continue
            events.append(Event(
                topic=message.topic(),
                partition=message.partition(),
                key=json.loads(message.key()) if message.key() else None,
                value=json.loads(message.value()) if message.value() else None,
            ))
        return events

    def close(self) -> None:
        self.consumer.close()
