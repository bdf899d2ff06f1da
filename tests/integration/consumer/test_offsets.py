"""Lag per partition against the real broker: the end of a partition is where its last message is."""
from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer

from consumer.offsets import partition_lags
from core.topics import ensure_topics

pytestmark = pytest.mark.integration


def test_lag_of_a_group_that_read_nothing_is_every_message_even_in_one_batch(stack_env: dict[str, str]) -> None:
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    topic = f"test.lag.{uuid.uuid4().hex[:12]}"
    ensure_topics(bootstrap, [topic], partitions=2, replication_factor=1)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 200})
    for index in range(7):  # one record batch on partition 0
        producer.produce(topic, key=b"k", value=str(index).encode(), partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-lag-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    try:
        lags = partition_lags(consumer, [topic])
    finally:
        consumer.close()

    assert [(lag.partition, lag.committed, lag.high, lag.lag) for lag in lags] == [(0, None, 7, 7), (1, None, 0, 0)]
