"""DeadLetterProducer creates its topic as configured (the broker is not contacted: ensure_topics is recorded)."""
from __future__ import annotations

from typing import Any

import pytest

from core import deadletter
from core.deadletter import DeadLetterProducer


def test_dead_letter_topic_is_created_with_the_given_replication_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(deadletter, "ensure_topics",
                        lambda bootstrap, topics, partitions, replication_factor:
                        calls.append((bootstrap, list(topics), partitions, replication_factor)))

    DeadLetterProducer("127.0.0.1:1", "shop.deadletter", 3).close()

    assert calls == [("127.0.0.1:1", ["shop.deadletter"], 1, 3)]
