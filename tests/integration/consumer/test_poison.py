"""Bad messages go to the dead-letter topic with their original bytes and error; the rest still applies."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.support.debezium import envelope
from tests.support.kafka import read_dead_letters
from tests.support.mysql import wait_for_rows
from tests.support.source import insert_user
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

BAD_JSON_KEY = b'{"order_id": 990000001}'


def order(order_id: int, total: str) -> dict[str, Any]:
    return {"order_id": order_id, "user_id": 1, "order_date": "2026-01-01T00:00:00Z", "total_amount": total,
            "status": "pending", "delivery_date": None}


def produce(bootstrap: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in messages:
        producer.produce("shop.public.orders", key=key, value=value, partition=0)
    assert producer.flush(30) == 0


def test_poison_messages_are_dead_lettered_and_later_changes_still_apply(
    replica: dict[str, str], tmp_path: Path
) -> None:
    bootstrap = replica["KAFKA_BOOTSTRAP"]
    good, too_big = 990000003, 990000002
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    try:
        produce(bootstrap, [
            (BAD_JSON_KEY, b"{not json"),
            (json.dumps({"order_id": too_big}).encode(),
             envelope("orders", "c", None, order(too_big, "99999999999.99"))),  # > DECIMAL(12,2)
            (json.dumps({"order_id": good}).encode(), envelope("orders", "c", None, order(good, "12.34"))),
        ])
        email = insert_user(replica)  # a real change after the poison, through PostgreSQL and Debezium

        assert wait_for_rows(replica, "SELECT email FROM users WHERE email = %s", (email,), 1) == [(email,)]
        assert wait_for_rows(replica, "SELECT order_id, total_amount FROM orders WHERE order_id = %s", (good,), 1)
        too_big_key = json.dumps({"order_id": too_big}).encode()
        letters = read_dead_letters(bootstrap, replica["DEADLETTER_TOPIC"], {BAD_JSON_KEY, too_big_key})
        by_key = {letter.key: letter for letter in letters}
        assert len(letters) == 2, letters

        bad_json = by_key[BAD_JSON_KEY]
        assert bad_json.value == b"{not json"
        assert bad_json.headers["cdc.stage"] == "decode" and "value is not JSON" in bad_json.headers["cdc.error"]
        assert bad_json.headers["cdc.source.topic"] == "shop.public.orders"
        assert bad_json.headers["cdc.source.partition"] == "0" and int(bad_json.headers["cdc.source.offset"]) >= 0

        refused = by_key[too_big_key]
        assert refused.headers["cdc.stage"] == "apply" and "Out of range" in refused.headers["cdc.error"]
        assert refused.json_value["after"]["total_amount"] == "99999999999.99"
        assert wait_for_rows(replica, "SELECT 1 FROM orders WHERE order_id = %s", (too_big,), 0) == []
        assert consumer.stop() == 0
    finally:
        consumer.ensure_stopped()
        # The topic is shared with every later reader of the session (the marts worker too): delete
        # both hand-made orders again, with their full old rows, so their net effect is nothing.
        produce(bootstrap, [
            (json.dumps({"order_id": key}).encode(), envelope("orders", "d", order(key, total), None))
            for key, total in ((good, "12.34"), (too_big, "99999999999.99"))
        ] + [(json.dumps({"order_id": key}).encode(), None) for key in (good, too_big)])
    log = consumer.output()
    assert "dead-letter shop.public.orders[0]@" in log and "value is not JSON" in log


def test_a_value_nested_too_deep_to_read_is_dead_lettered_and_the_consumer_goes_on(
    replica: dict[str, str], tmp_path: Path
) -> None:
    # 300 KB, under Kafka's 1 MB: orjson 3.8.3 overflowed its C stack on it (SIGSEGV), at every restart again.
    nested = b"[" * 150_000 + b"]" * 150_000
    key = json.dumps({"order_id": 990000004}).encode()
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    try:
        produce(replica["KAFKA_BOOTSTRAP"], [(key, nested)])
        email = insert_user(replica)

        assert wait_for_rows(replica, "SELECT email FROM users WHERE email = %s", (email,), 1) == [(email,)]
        letters = read_dead_letters(replica["KAFKA_BOOTSTRAP"], replica["DEADLETTER_TOPIC"], {key})
        assert [(letter.value, letter.headers["cdc.stage"], letter.headers["cdc.error"]) for letter in letters] == [
            (nested, "decode", "value is nested deeper than 10000 levels")]
        assert consumer.stop() == 0
    finally:
        consumer.ensure_stopped()
