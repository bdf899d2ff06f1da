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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from core.source.catalog import CatalogColumn, CatalogTable
from core.topic_names import source_topics
from core.topics import ensure_topics, ensure_transaction_topic
from tests.support.cli import run_cdc
from tests.support.debezium import Change, Message, envelope, produce_schema_baselines, transaction
from tests.support.kafka import group_lags
from tests.support.mysql import wait_for_rows
from tests.support.replica import private_replica
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


def recreated_while_consuming(env: dict[str, str], tmp_path: Path, topic: str,
                              applied: Callable[[ConsumerProcess], None]) -> str:
    """A consumer runs until `applied` returns and `topic` is committed to its end, then `topic` is recreated: the
    consumer stops, and so does the next start, whose output is returned."""
    consumer = ConsumerProcess(env, tmp_path / "consume.log").start()
    try:
        applied(consumer)
        deadline = time.monotonic() + 30  # the broker keeps the group's offsets across the re-creation
        while any(lag.lag for lag in group_lags(env["KAFKA_BOOTSTRAP"], env["CONSUMER_GROUP"], [topic])):
            assert time.monotonic() < deadline, f"the consumer did not commit {topic} to its end"
            time.sleep(0.5)
        recreate(env, topic)
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
    return again.output()


def test_a_recreated_topic_stops_the_consumer_and_adopting_it_applies_the_new_topic_from_its_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    produce_orders(env, [1, 2, 3])

    def applied(consumer: ConsumerProcess) -> None:
        assert order_ids(env, 3) == [(1,), (2,), (3,)], consumer.output()[-3000:]

    output = recreated_while_consuming(env, tmp_path, orders_topic(env), applied)
    assert f"source topics were recreated since the replica applied them: {orders_topic(env)}" in output
    assert "`cdc consume --adopt-topics`" in output

    adopted = run_cdc("consume", "--adopt-topics", env=env)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr

    produce_orders(env, [4])  # offset 0 of the new topic: below the group's stale committed offset 3
    resumed = ConsumerProcess(env, tmp_path / "resumed.log").start()
    try:
        assert order_ids(env, 4) == [(1,), (2,), (3,), (4,)], resumed.output()[-3000:]
    finally:
        assert resumed.stop() == 0


COUPONS = CatalogTable("coupons", (CatalogColumn(1, "coupon_id", "bigint", False),
                                   CatalogColumn(2, "code", "text", False)), ("coupon_id",), oid=5151)


def coupon(coupon_id: int) -> Change:
    return Change("coupons", "c", {"coupon_id": coupon_id}, {"coupon_id": coupon_id, "code": f"C{coupon_id}"}, 0)


def coupons_published(xid: int, commit_lsn: int) -> list[Message]:
    """The source transaction that adds coupons to the publication (its cdc_schema_changes row, as migration 0005's
    trigger records it) with a first coupon."""
    row = {"id": 9, "table_name": "coupons", "command": "ALTER PUBLICATION", "definition": COUPONS.to_json(),
           "captured_at": "2026-01-01T00:00:00Z"}
    return transaction(xid, commit_lsn, [Change("cdc_schema_changes", "c", {"id": 9}, row, 0), coupon(1)]).whole()


def produce(env: dict[str, str], messages: list[Message]) -> None:
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    for message in messages:
        producer.produce(f"{env['TOPIC_PREFIX']}.{message.collection}", key=message.key, value=message.value,
                         partition=message.partition)
    assert producer.flush(30) == 0


def coupons_topic(env: dict[str, str]) -> str:
    return f"{env['TOPIC_PREFIX']}.public.coupons"


def test_a_recreated_topic_of_a_table_added_to_the_publication_stops_the_consumer_and_is_adopted(
    env: dict[str, str], tmp_path: Path
) -> None:
    ensure_transaction_topic(env["KAFKA_BOOTSTRAP"], env["TOPIC_PREFIX"], 1)
    ensure_topics(env["KAFKA_BOOTSTRAP"], [coupons_topic(env)], 4, 1)
    produce(env, coupons_published(100, 1_000))

    def applied(consumer: ConsumerProcess) -> None:
        assert wait_for_rows(env, "SELECT coupon_id FROM coupons", (), 1) == [(1,)], consumer.output()[-3000:]

    output = recreated_while_consuming(env, tmp_path, coupons_topic(env), applied)
    assert f"since the replica applied them: {coupons_topic(env)}" in output

    adopted = run_cdc("consume", "--adopt-topics", env=env)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert coupons_topic(env) in adopted.stdout

    produce(env, transaction(101, 2_000, [coupon(2)]).whole())  # offset 0 of the new topic, below the stale 1
    resumed = ConsumerProcess(env, tmp_path / "resumed.log").start()
    try:
        rows = wait_for_rows(env, "SELECT coupon_id FROM coupons ORDER BY coupon_id", (), 2)
        assert rows == [(1,), (2,)], resumed.output()[-3000:]
    finally:
        assert resumed.stop() == 0
