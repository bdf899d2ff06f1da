"""The one way tests read Kafka topics: TopicReader, from each topic's start or from its end when it was made;
and a consumer group's progress on them (group_lags)."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka import Message as KafkaMessage

from consumer.offsets import PartitionLag, end_offsets, partition_lags
from core.deadletter import RawMessage


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None for a tombstone
    headers: dict[str, str]

    @classmethod
    def of(cls, message: KafkaMessage) -> Message:
        raw = RawMessage.of(message)
        pairs = message.headers() or []
        headers = {name: _text(value) for name, value in (pairs.items() if isinstance(pairs, dict) else pairs)}
        return cls(raw.topic, raw.partition, raw.offset, raw.key, raw.value, headers)

    @property
    def json_key(self) -> Any:
        return json.loads(self.key) if self.key else None

    @property
    def json_value(self) -> Any:
        """The value decoded; None for a tombstone."""
        return json.loads(self.value) if self.value else None


def _text(value: str | bytes | None) -> str:
    """A header's value as text ("" for a header without one)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


class TopicReader:
    """Reads topics by assignment, in no consumer group's name and committing nothing.

    From each topic's start (a topic not created yet is read once it appears),
    or with `from_end` from the end each topic had when the reader was made.
    `config` adds to the consumer's configuration (e.g. larger fetch sizes).
    """

    def __init__(self, bootstrap: str, topics: Iterable[str], *, from_end: bool = False,
                 config: Mapping[str, Any] | None = None) -> None:
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **(config or {}),
        })
        self.unassigned = list(topics)
        self.next_lookup = 0.0  # when to look again for unassigned topics (not at every message)
        if from_end:
            self._assign_from_end()
        else:
            self._assign_existing_from_start()

    def collect(self, until: Callable[[list[Message]], bool], timeout: float = 30.0,
                keep: Callable[[Message], bool] = lambda message: True) -> list[Message]:
        """The messages `keep` accepts, in order of arrival, until `until(them)` holds or the timeout passes."""
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until(messages):
            if self.unassigned and time.monotonic() >= self.next_lookup:
                self._assign_existing_from_start()
            message = self.consumer.poll(0.5)
            if message is not None and message.error() is None and keep(kept := Message.of(message)):
                messages.append(kept)
        return messages

    def close(self) -> None:
        self.consumer.close()

    def _assign_from_end(self) -> None:
        partitions = [TopicPartition(topic, partition) for topic, count in self._partition_counts().items()
                      for partition in range(count)]
        assert set(self.unassigned) <= {tp.topic for tp in partitions}, f"not all of {self.unassigned} exist"
        ends = end_offsets(self.consumer, partitions, 10)
        self.consumer.assign([TopicPartition(tp.topic, tp.partition, ends[(tp.topic, tp.partition)])
                              for tp in partitions])
        self.unassigned = []

    def _assign_existing_from_start(self) -> None:
        self.next_lookup = time.monotonic() + 0.5
        counts = self._partition_counts()
        if counts:
            self.consumer.incremental_assign([TopicPartition(topic, partition, OFFSET_BEGINNING)
                                              for topic, count in counts.items() for partition in range(count)])
            self.unassigned = [topic for topic in self.unassigned if topic not in counts]

    def _partition_counts(self) -> dict[str, int]:
        """Of the unassigned topics, those that exist, with their number of partitions."""
        listed = self.consumer.list_topics(timeout=10).topics
        return {topic: len(listed[topic].partitions) for topic in self.unassigned
                if topic in listed and listed[topic].partitions}


def read_dead_letters(bootstrap: str, topic: str, keys: set[bytes], timeout: float = 60) -> list[Message]:
    """Read the dead-letter topic from the start until letters with all these message keys arrived.

    Only those are returned: a consumer reading from the earliest offset also
    dead-letters what other tests of the session put on the shared topics.
    """
    reader = TopicReader(bootstrap, [topic])
    try:
        return reader.collect(lambda letters: keys <= {letter.key for letter in letters}, timeout,
                              keep=lambda letter: letter.key in keys)
    finally:
        reader.close()


def group_lags(bootstrap: str, group: str, topics: Iterable[str]) -> list[PartitionLag]:
    """Committed offset vs end of every partition of `topics` for consumer group `group` (read without joining
    the group, committing nothing)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        return partition_lags(consumer, topics)
    finally:
        consumer.close()
