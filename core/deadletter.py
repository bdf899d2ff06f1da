"""Dead-letter topics: the original bytes of a message that cannot be applied, with the reason.

Both stages use them, the replication consumer and the marts worker, each
its own topic (named in core.topic_names), so that a bad source message yields
one letter per stage that skipped it.

Key and value are the consumed message's own bytes (unchanged, so the
message can be inspected or replayed); the reason and the source position
travel in headers:

    cdc.error            what was wrong (e.g. "value is not JSON: ...")
    cdc.stage            decode (bad message) or apply (MySQL refused the row)
    cdc.source.topic / cdc.source.partition / cdc.source.offset

Every dead letter is also logged. A stage commits the offsets of a batch
only after the producer confirmed delivery of its letters, so a dead letter
is never lost (after a crash it may be sent twice: at least once).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from core.errors import CdcError
from core.limits import MESSAGE_MAX_BYTES
from core.records import Record
from core.topics import ensure_topics

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 30.0


class RawMessage(Record, frozen=True):
    """A message as consumed: where it was and its original bytes (what a dead letter carries)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    @classmethod
    def of(cls, message: Message) -> RawMessage:
        """A consumed message (not an error event, whose place is unset)."""
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None, message.error()
        return cls(topic, partition, offset, message.key(), message.value())

    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class DeadLetterError(CdcError):
    """The dead-letter topic did not confirm delivery (the batch is retried, not committed)."""


@dataclass(frozen=True)
class DeadLetter:
    raw: RawMessage
    error: str
    stage: str  # "decode" or "apply"

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        return [
            ("cdc.error", self.error.encode()),
            ("cdc.stage", self.stage.encode()),
            ("cdc.source.topic", self.raw.topic.encode()),
            ("cdc.source.partition", str(self.raw.partition).encode()),
            ("cdc.source.offset", str(self.raw.offset).encode()),
        ]


class DeadLetterProducer:
    def __init__(self, bootstrap: str, topic: str, replication_factor: int) -> None:
        self.topic = topic
        ensure_topics(bootstrap, [topic], partitions=1, replication_factor=replication_factor)
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            "linger.ms": 5,
            "message.max.bytes": MESSAGE_MAX_BYTES,
            "message.timeout.ms": int(DELIVERY_TIMEOUT_S * 1000),
        })

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Produce every letter and wait for confirmation; DeadLetterError if any failed."""
        if not letters:
            return
        failures: list[str] = []

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failures.append(str(error))

        for letter in letters:
            log.warning("dead-letter %s (%s): %s -> %s", letter.raw.where(), letter.stage, letter.error, self.topic)
            self._producer.produce(self.topic, key=letter.raw.key, value=letter.raw.value,
                                   headers=letter.headers(), on_delivery=delivered)
        remaining = self._producer.flush(DELIVERY_TIMEOUT_S)
        if failures or remaining:
            raise DeadLetterError(
                f"dead-letter topic {self.topic} did not confirm {len(failures) + remaining} message(s): "
                f"{'; '.join(failures[:3]) or 'timed out'}"
            )

    def close(self) -> None:
        self._producer.flush(5)
