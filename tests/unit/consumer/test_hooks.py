"""The Replicator's public hooks for measurements, without a broker or MySQL."""
from __future__ import annotations

import pytest

from consumer import app
from consumer.settings import ConsumerSettings


class Tombstone:
    """A consumed message with no value (decoded as a Skip): enough to be taken into the batch."""

    def __init__(self, topic: str, offset: int) -> None:
        self._topic, self._offset = topic, offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"{}"

    def value(self) -> None:
        return None


class ScriptedConsumer:
    """Each poll() and the consume() after it return the next list of messages."""

    def __init__(self, calls: list[list[Tombstone]]) -> None:
        self.calls = calls
        self.rest: list[Tombstone] = []

    def poll(self, timeout: float) -> Tombstone | None:
        messages = self.calls.pop(0)
        if not messages:
            self.rest = []
            return None
        first, *self.rest = messages
        return first

    def consume(self, num_messages: int, timeout: float) -> list[Tombstone]:
        rest, self.rest = self.rest, []
        return rest


BASE = {"KAFKA_BOOTSTRAP": "127.0.0.1:1", "MYSQL_URL": "mysql://root@127.0.0.1:1/shop"}


def test_on_consumed_gets_the_count_of_each_non_empty_consume_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "DeadLetterProducer", lambda *args: None)
    settings = ConsumerSettings.from_env(BASE)
    topic = next(iter(settings.topics()))
    counts: list[int] = []
    replicator = app.Replicator(settings, on_consumed=counts.append)
    real = replicator.consumer
    replicator.consumer = ScriptedConsumer([[Tombstone(topic, 0), Tombstone(topic, 1)], [], [Tombstone(topic, 2)]])  # type: ignore[assignment]
    try:
        for _ in range(3):
            replicator._consume_once()
    finally:
        real.close()
        replicator.writer.shutdown()
    assert counts == [2, 1]
    assert replicator.batch.messages == 3
