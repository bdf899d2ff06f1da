"""The Replicator's wiring, without a broker or MySQL (constructing it contacts neither)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, TopicPartition

from consumer import app
from consumer.errors import RetentionGapError, TopicsRecreated
from consumer.settings import ConsumerSettings
from core.errors import MySqlUnavailable
from tests.support.fake_consumer import FakeConsumer

BASE = {"KAFKA_BOOTSTRAP": "127.0.0.1:1", "MYSQL_URL": "mysql://root@127.0.0.1:1/shop"}


class RecordedDeadLetters:
    created: list[tuple[Any, ...]] = []

    def __init__(self, *args: Any) -> None:
        RecordedDeadLetters.created.append(args)

    def close(self) -> None:
        pass


class RecordedGenerationChecks:
    """The topics of each check of the topics' ids (consumer.generations), answered without a broker or MySQL."""

    topics: list[list[str]] = []

    @staticmethod
    def topic_ids(bootstrap: str, topics: Any) -> dict[str, str]:
        return {topic: f"id of {topic}" for topic in topics}

    @staticmethod
    def check(mysql: Any, current: dict[str, str]) -> None:
        RecordedGenerationChecks.topics.append(sorted(current))


@contextmanager
def replicator_of(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[app.Replicator]:
    RecordedDeadLetters.created = []
    RecordedGenerationChecks.topics = []
    monkeypatch.setattr(app, "DeadLetterProducer", RecordedDeadLetters)
    monkeypatch.setattr(app, "topic_ids", RecordedGenerationChecks.topic_ids)
    monkeypatch.setattr(app.generations, "check", RecordedGenerationChecks.check)
    replicator = app.Replicator(ConsumerSettings.from_env(env))
    try:
        yield replicator
    finally:
        replicator.consumer.close()
        replicator.writer.shutdown()


def test_consumer_dead_letter_topic_follows_topic_replication_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    with replicator_of({**BASE, "TOPIC_REPLICATION_FACTOR": "3"}, monkeypatch):
        assert RecordedDeadLetters.created == [("127.0.0.1:1", "shop.deadletter", 3)]


class PausingConsumer(FakeConsumer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.paused: list[TopicPartition] = []
        self.resumed: list[TopicPartition] = []

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused += partitions

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.resumed += partitions


def test_an_assignment_with_a_retention_gap_stops_the_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = PausingConsumer({("shop.public.orders", 0): 3}, {("shop.public.orders", 0): 5})
    with replicator_of(BASE, monkeypatch) as replicator:
        with pytest.raises(RetentionGapError, match=r"consumer group cdc-replica .*\n  shop\.public\.orders\[0\]"):
            replicator._on_assign(consumer, [TopicPartition("shop.public.orders", 0)])  # type: ignore[arg-type]


def test_an_assignment_after_an_abandoned_batch_resumes_exactly_the_assigned_partitions(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = PausingConsumer({}, {("shop.public.orders", 0): 0, ("shop.public.orders", 1): 0})
    assigned = [TopicPartition("shop.public.orders", 0), TopicPartition("shop.public.orders", 1)]
    with replicator_of(BASE, monkeypatch) as replicator:
        replicator.backoff.failed()
        replicator._abandon("revoked")
        replicator._on_assign(consumer, assigned)  # type: ignore[arg-type]

    assert (consumer.resumed, consumer.paused) == (assigned, [])


class AssigningConsumer(PausingConsumer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.assigned: list[tuple[str, int, int]] = []

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = [(tp.topic, tp.partition, tp.offset) for tp in partitions]


def test_a_partition_to_reread_starts_at_its_log_start_and_the_others_at_the_committed_offset(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = AssigningConsumer({("shop.public.orders", 0): 3, ("shop.public.orders", 1): 7},
                                 {("shop.public.orders", 0): 0, ("shop.public.orders", 1): 0})
    with replicator_of(BASE, monkeypatch) as replicator:
        replicator.rereads = {("shop.public.orders", 0)}
        replicator._on_assign(consumer, [TopicPartition("shop.public.orders", 0),  # type: ignore[arg-type]
                                         TopicPartition("shop.public.orders", 1)])

    assert consumer.assigned == [("shop.public.orders", 0, OFFSET_BEGINNING), ("shop.public.orders", 1, OFFSET_INVALID)]


def test_a_partition_to_reread_whose_log_no_longer_starts_at_zero_is_a_retention_gap(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = AssigningConsumer({("shop.public.orders", 0): 9}, {("shop.public.orders", 0): 5})
    with replicator_of(BASE, monkeypatch) as replicator:
        replicator.rereads = {("shop.public.orders", 0)}
        with pytest.raises(RetentionGapError, match=r"shop\.public\.orders\[0\]: nothing committed, but the log starts at 5"):
            replicator._on_assign(consumer, [TopicPartition("shop.public.orders", 0)])  # type: ignore[arg-type]


def test_a_topic_assigned_the_first_time_has_its_id_recorded_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = AssigningConsumer({("shop.public.coupons", 0): 0}, {("shop.public.coupons", 0): 0})
    with replicator_of(BASE, monkeypatch) as replicator:
        replicator._on_assign(consumer, [TopicPartition("shop.public.coupons", 0)])  # type: ignore[arg-type]
        assert RecordedGenerationChecks.topics == [sorted([*replicator.settings.consumed_topics(),
                                                           "shop.public.coupons"])]


def test_an_assigned_topic_found_recreated_stops_the_run_before_anything_is_resumed(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = AssigningConsumer({("shop.public.coupons", 0): 0}, {("shop.public.coupons", 0): 0})
    with replicator_of(BASE, monkeypatch) as replicator:
        monkeypatch.setattr(app.generations, "check", recreated)
        with pytest.raises(TopicsRecreated, match="coupons"):
            replicator._on_assign(consumer, [TopicPartition("shop.public.coupons", 0)])  # type: ignore[arg-type]
    assert consumer.resumed == [] and consumer.paused == []


def recreated(mysql: Any, current: dict[str, str]) -> None:
    raise TopicsRecreated("source topics were recreated: shop.public.coupons")


def test_an_assignment_goes_on_when_the_ids_cannot_be_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = AssigningConsumer({("shop.public.coupons", 0): 0}, {("shop.public.coupons", 0): 0})
    with replicator_of(BASE, monkeypatch) as replicator:
        monkeypatch.setattr(app.generations, "check", unavailable)
        replicator._on_assign(consumer, [TopicPartition("shop.public.coupons", 0)])  # type: ignore[arg-type]
    assert [(tp.topic, tp.partition) for tp in consumer.resumed] == [("shop.public.coupons", 0)]


def unavailable(mysql: Any, current: dict[str, str]) -> None:
    raise MySqlUnavailable("MySQL at 127.0.0.1:1: refused")


def test_an_assignment_without_partitions_to_reread_keeps_the_committed_offsets(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = AssigningConsumer({("shop.public.orders", 0): 3}, {("shop.public.orders", 0): 0})
    with replicator_of(BASE, monkeypatch) as replicator:
        replicator._on_assign(consumer, [TopicPartition("shop.public.orders", 0)])  # type: ignore[arg-type]

    assert consumer.assigned == []
