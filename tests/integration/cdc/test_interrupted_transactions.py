"""An interrupted write (a transaction's events without its END) and a connector replay (a transaction's
events and END written twice) leave the replica and the marts exact: nothing lost, nothing applied twice.

The topics are the test's own (a unique prefix), filled by hand with Debezium-shaped messages
(tests/support/debezium.py) in the order a connector that crashed and restarted writes them; both workers
read them into one database of their own. The source transactions:

  setup  a user, a category and two products
  X      an order and one of its two lines, then nothing: its END never comes (an interrupted write whose
         replay never comes either); Y's events follow X's in the same partitions
  Y      an order with a line
  W      an order with a line, deleted again by V
  V      W's order and line deleted
  W'     W again, events and END (a connector replaying from before W): applied again, W's order would be back
  R      an interrupted write that is replayed: its order alone, then the order, its line and the END
  Z      an order with a line, the last transaction: both stages' watermarks end at Z
"""
from __future__ import annotations

import itertools
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from core.topics import ensure_source_topics
from core.watermark import MARTS_STAGE, REPLICA_STAGE, WATERMARK_TABLE
from tests.support.debezium import Change, Message, SourceTransaction, produce_schema_baselines, transaction
from tests.support.mysql import mysql_rows
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

PARTITIONS = 4
APPLY_TIMEOUT = 60.0
_xids = itertools.count(5_000)
_lsns = itertools.count(1_000_000, 1_000)


@pytest.fixture
def env(stack_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """Both workers' settings: the test's own topics, database, consumer groups and dead-letter topics."""
    with private_replica(stack_env) as replica:
        uid = uuid.uuid4().hex[:10]
        own = {**os.environ, **replica, "TOPIC_PREFIX": f"intr{uid}", "MARTS_APP_ID": f"test-intr-{uid}",
               "MARTS_DATA_DIR": str(tmp_path / "marts"), "MARTS_SESSION_TIMEOUT": "4",
               "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.{uid}"}
        ensure_source_topics(own["KAFKA_BOOTSTRAP"], own["TOPIC_PREFIX"], PARTITIONS, 1)
        produce_schema_baselines(own["KAFKA_BOOTSTRAP"], own["TOPIC_PREFIX"])
        yield own


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[list[ConsumerProcess]]:
    started = [ConsumerProcess(env, tmp_path / "consume.log").start(),
               ConsumerProcess(env, tmp_path / "marts.log", args=("marts",)).start()]
    yield started
    for worker in started:
        worker.ensure_stopped()


def tx(*changes: Change) -> SourceTransaction:
    return transaction(next(_xids), next(_lsns), changes)


def user(user_id: int) -> dict[str, Any]:
    return {"user_id": user_id, "first_name": "Ann", "last_name": "Replay", "email": f"ann{user_id}@example.com",
            "phone": None, "registration_date": "2024-01-02T03:04:05.000000Z", "loyalty_status": "gold"}


def order(order_id: int, total: str) -> dict[str, Any]:
    return {"order_id": order_id, "user_id": 1, "order_date": "2024-02-03T04:05:06.000000Z",
            "total_amount": total, "status": "paid", "delivery_date": None}


def line(line_id: int, order_id: int, product_id: int, quantity: int, price: str) -> dict[str, Any]:
    total = Decimal(price) * quantity
    return {"order_detail_id": line_id, "order_id": order_id, "product_id": product_id, "quantity": quantity,
            "price_per_unit": price, "total_price": str(total)}


def c(table: str, row: dict[str, Any], partition: int) -> Change:
    key_column = next(iter(row))
    return Change(table, "c", {key_column: row[key_column]}, row, partition)


def d(table: str, row: dict[str, Any], partition: int) -> Change:
    key_column = next(iter(row))
    return Change(table, "d", {key_column: row[key_column]}, row, partition)


def produce(env: dict[str, str], messages: Sequence[Message]) -> None:
    """In this order, each partition's messages in the order given (one producer, flushed)."""
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP"], "enable.idempotence": True})
    for message in messages:
        producer.produce(f"{env['TOPIC_PREFIX']}.{message.collection}", key=message.key, value=message.value,
                         partition=message.partition)
    assert producer.flush(30) == 0


def watermarks(env: dict[str, str]) -> dict[str, tuple[int, int]]:
    try:
        rows = mysql_rows(env, f"SELECT stage, source_lsn, source_txid FROM {WATERMARK_TABLE}")
    except Exception:  # noqa: BLE001 - not created yet
        return {}
    return {stage: (int(lsn), int(xid)) for stage, lsn, xid in rows}


def wait_for_watermarks(env: dict[str, str], last: SourceTransaction) -> dict[str, tuple[int, int]]:
    deadline = time.monotonic() + APPLY_TIMEOUT
    wanted = {REPLICA_STAGE: (last.commit_lsn, last.xid), MARTS_STAGE: (last.commit_lsn, last.xid)}
    while (seen := watermarks(env)) != wanted and time.monotonic() < deadline:
        time.sleep(0.3)
    return seen


def test_an_interrupted_write_and_a_replay_leave_the_replica_and_the_marts_exact(
        env: dict[str, str], workers: list[ConsumerProcess]) -> None:
    setup = tx(c("users", user(1), 1), c("product_categories", {"category_id": 1, "name": "Kitchen",
                                                                 "parent_category_id": None}, 1),
               *(c("products", {"product_id": p, "name": f"Pan {p}", "description": None, "category_id": 1,
                                "price": f"{p}.00", "stock_quantity": 5,
                                "creation_date": "2023-01-01T00:00:00.000000Z"}, p) for p in (1, 2)))
    x = tx(c("orders", order(10, "5.00"), 2), c("order_details", line(100, 10, 1, 1, "2.00"), 0),
           c("order_details", line(101, 10, 2, 1, "3.00"), 1))
    y = tx(c("orders", order(11, "4.00"), 2), c("order_details", line(110, 11, 1, 2, "2.00"), 0))
    w = tx(c("orders", order(12, "2.00"), 3), c("order_details", line(120, 12, 2, 1, "2.00"), 2))
    v = tx(d("order_details", line(120, 12, 2, 1, "2.00"), 2), d("orders", order(12, "2.00"), 3))
    r = tx(c("orders", order(14, "9.00"), 1), c("order_details", line(140, 14, 2, 3, "3.00"), 3))
    z = tx(c("orders", order(13, "6.00"), 0), c("order_details", line(130, 13, 2, 2, "3.00"), 1))

    interrupted_x = [x.begin(), *x.events()[:2]]  # the order and its first line; no second line, no END
    interrupted_r = [r.begin(), r.events()[0]]
    produce(env, [*setup.whole(), *interrupted_x, *y.whole(), *w.whole(), *v.whole(), *w.whole(),
                  *interrupted_r, *r.whole(), *z.whole()])

    assert wait_for_watermarks(env, z) == {REPLICA_STAGE: (z.commit_lsn, z.xid), MARTS_STAGE: (z.commit_lsn, z.xid)}
    assert replica_and_marts(env) == {
        "orders": [(11, Decimal("4.00")), (13, Decimal("6.00")), (14, Decimal("9.00"))],
        "order_details": [(110, 11), (130, 13), (140, 14)],
        "user_activity": [(1, "paid", 3, Decimal("19.00"))],
        "sales_by_category": [(1, 7, Decimal("19.00"))],
    }


def replica_and_marts(env: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "orders": mysql_rows(env, "SELECT order_id, total_amount FROM orders ORDER BY order_id"),
        "order_details": mysql_rows(env, "SELECT order_detail_id, order_id FROM order_details ORDER BY 1"),
        "user_activity": mysql_rows(env, "SELECT user_id, status, order_count, total_spent FROM user_activity"),
        "sales_by_category": mysql_rows(env, "SELECT category_id, total_quantity_sold, total_sales"
                                             " FROM sales_by_category"),
    }
