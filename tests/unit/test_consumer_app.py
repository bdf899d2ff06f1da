"""The Replicator's wiring, without a broker or MySQL (constructing it contacts neither)."""
from __future__ import annotations

from typing import Any

import pytest

from consumer import app
from consumer.settings import ConsumerSettings

BASE = {"KAFKA_BOOTSTRAP": "127.0.0.1:1", "MYSQL_URL": "mysql://root@127.0.0.1:1/shop"}


class RecordedDeadLetters:
    created: list[tuple[Any, ...]] = []

    def __init__(self, *args: Any) -> None:
        RecordedDeadLetters.created.append(args)

    def close(self) -> None:
        pass


def test_consumer_dead_letter_topic_follows_topic_replication_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    RecordedDeadLetters.created = []
    monkeypatch.setattr(app, "DeadLetterProducer", RecordedDeadLetters)
    settings = ConsumerSettings.from_env({**BASE, "TOPIC_REPLICATION_FACTOR": "3"})

    replicator = app.Replicator(settings)
    replicator.consumer.close()
    replicator.writer.shutdown()

    assert RecordedDeadLetters.created == [("127.0.0.1:1", "shop.deadletter", 3)]
