"""A recreated source topic stops the replica consumer loudly; `--adopt-topics` is the way on.

The topics here are the test's own (a unique TOPIC_PREFIX), filled by hand
with Debezium-shaped events, so deleting one disturbs no other test. The
local broker keeps the group's committed offsets across the re-creation:
the adopted topic must still be read from its start.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from core.topic_names import source_topics
from core.topics import ensure_topics
from tests.support.cli import run_cdc
from tests.support.debezium import envelope, produce_schema_baselines
from tests.support.mysql import wait_for_rows
from tests.support.replica import private_replica, wait_for_zero_lag
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

EXIT_TIMEOUT = 60.0


@pytest.fixture
def env(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    with private_replica(stack_env) as replica:
        own = {**replica, "TOPIC_PREFIX": f"cgen{uuid.uuid4().hex[:10]}"}
        ensure_topics(own["KAFKA_BOOTSTRAP"], source_topics(own["TOPIC_PREFIX"]), 4, 1)
        produce_schema_baselines(own["KAFKA_BOOTSTRAP"], own["TOPIC_PREFIX"])
        yield own


def orders_topic(env: dict[str, str]) -> str:
    return f"{env['TOPIC_PREFIX']}.public.orders"


def order(order_id: int) -> dict[str, Any]:
    return {"order_id": order_id, "user_id": 1, "order_date": "2026-01-01T00:00:00Z", "total_amount": "7.50",
            "status": "paid", "delivery_date": None}


def produce_orders(env: dict[str, str], order_ids: list[int]) -> None:
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    for order_id in order_ids:
        producer.produce(orders_topic(env), key=json.dumps({"order_id": order_id}).encode(),
                         value=envelope("orders", "c", None, order(order_id)), partition=0)
    assert producer.flush(30) == 0


def recreate(env: dict[str, str], topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    admin.delete_topics([topic])[topic].result(15)
    time.sleep(1.0)
    ensure_topics(env["KAFKA_BOOTSTRAP"], [topic], 4, 1)


def order_ids(env: dict[str, str], count: int) -> list[tuple[Any, ...]]:
    return wait_for_rows(env, "SELECT order_id FROM orders ORDER BY order_id", (), count)


def test_a_recreated_topic_stops_the_consumer_and_adopting_it_applies_the_new_topic_from_its_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    produce_orders(env, [1, 2, 3])
    consumer = ConsumerProcess(env, tmp_path / "consume.log").start()
    try:
        assert order_ids(env, 3) == [(1,), (2,), (3,)], consumer.output()[-3000:]
        wait_for_zero_lag(env)  # the offsets are committed: the broker keeps them across the re-creation
        recreate(env, orders_topic(env))
        # Not always 1: librdkafka 2.16 can crash (SIGSEGV) on the local broker's answers for a deleted
        # topic before the consumer's own check sees the new id (on Apache Kafka it does not).
        assert consumer.proc is not None and consumer.proc.wait(timeout=EXIT_TIMEOUT) != 0
    finally:
        consumer.ensure_stopped()

    again = ConsumerProcess(env, tmp_path / "again.log").start()
    try:
        assert again.proc is not None and again.proc.wait(timeout=EXIT_TIMEOUT) == 1
    finally:
        again.ensure_stopped()
    assert f"source topics were recreated since the replica applied them: {orders_topic(env)}" in again.output()
    assert "`cdc consume --adopt-topics`" in again.output()

    adopted = run_cdc("consume", "--adopt-topics", env=env)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr

    produce_orders(env, [4])  # offset 0 of the new topic: below the group's stale committed offset 3
    resumed = ConsumerProcess(env, tmp_path / "resumed.log").start()
    try:
        assert order_ids(env, 4) == [(1,), (2,), (3,), (4,)], resumed.output()[-3000:]
    finally:
        assert resumed.stop() == 0
