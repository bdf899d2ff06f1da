"""Decoding Debezium events (JSON without schemas) into what the marts need."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.transactions import TxTag
from marts.events import MalformedEvent, Position, RowChange, Truncate, decode, decode_heartbeat

AT = Position("shop.public.orders", 2, 41)
ORDER = {"order_id": 7, "user_id": 3, "order_date": "2026-03-29T01:59:59.999999Z",
         "total_amount": "1234567890.12", "status": "pending", "delivery_date": 1}


LSN = 26772480


def event(op: str, before: object = None, after: object = None, source: object = None) -> bytes:
    source = {"ts_ms": 1700000000123, "lsn": LSN} if source is None else source
    return json.dumps({"before": before, "after": after, "op": op, "source": source,
                       "ts_ms": 1700000000200}).encode()


@pytest.mark.parametrize("op", ["c", "r", "u"])
def test_create_snapshot_and_update_carry_the_narrowed_after_image(op: str) -> None:
    decoded = decode(AT, "orders", event(op, ORDER if op == "u" else None, {**ORDER, "status": "paid"}))
    assert decoded.change == RowChange("orders", 7, (7, 3, "paid", Decimal("1234567890.12")))
    assert decoded.position == AT and decoded.source_ts_ms == 1700000000123


def test_change_carries_its_source_lsn() -> None:
    assert decode(AT, "orders", event("t")).lsn == LSN


def test_delete_takes_its_key_from_the_before_image() -> None:
    assert decode(AT, "orders", event("d", ORDER)).change == RowChange("orders", 7, None)


def test_tombstone_is_no_change_and_truncate_is_table_wide() -> None:
    assert decode(AT, "orders", None).change is None
    assert decode(AT, "orders", event("t")).change == Truncate("orders")


def test_unicode_and_empty_names_survive() -> None:
    user = {"user_id": 1, "first_name": "Zoë 🚀", "last_name": "", "email": "z@example.com"}
    assert decode(AT, "users", event("c", None, user)).change == RowChange("users", 1, (1, "Zoë 🚀", ""))


@pytest.mark.parametrize("value", [
    b"not json", b"[1, 2]", event("x", None, ORDER), event("c", None, None),
    event("c", None, {**ORDER, "total_amount": 12.5}), event("c", None, {**ORDER, "total_amount": "NaN"}),
    event("c", None, {**ORDER, "user_id": "3"}), event("c", None, {**ORDER, "user_id": True}),
    event("c", None, {k: v for k, v in ORDER.items() if k != "status"}),
    event("c", None, {**ORDER, "status": None}),
    event("t", source={"ts_ms": 1}), event("c", None, ORDER, source={"lsn": "26772480"}),
    event("d", ORDER, source={"lsn": True}),
])
def test_malformed_events_raise_malformed_event(value: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(AT, "orders", value)


def test_an_event_wrapped_with_its_schema_decodes_like_one_without() -> None:
    payload = json.loads(event("c", None, ORDER))
    wrapped = json.dumps({"schema": {"type": "struct"}, "payload": payload}).encode()
    assert decode(AT, "orders", wrapped) == decode(AT, "orders", event("c", None, ORDER))


def test_an_event_of_another_table_on_this_tables_topic_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="event for table 'users' on the topic of table 'orders'"):
        decode(AT, "orders", event("c", None, ORDER, source={"table": "users", "lsn": LSN}))


def test_an_unknown_table_is_malformed() -> None:
    with pytest.raises(MalformedEvent):
        decode(AT, "cdc_heartbeat", event("c", None, {"id": 1}))


def test_a_heartbeat_is_no_change_but_carries_its_source_commit_time_and_transaction() -> None:
    value = json.dumps({"op": "u", "before": None, "after": {"id": 1, "ts": 5},
                        "source": {"table": "cdc_heartbeat", "ts_ms": 1700000000999, "ts_us": 1700000000999123,
                                   "lsn": LSN},
                        "transaction": {"id": f"750:{LSN}", "total_order": 1}}).encode()
    beat = decode_heartbeat(AT, value)
    assert (beat.change, beat.source_ts_ms, beat.commit_us, beat.tag) == (
        None, 1700000000999, 1700000000999123, TxTag(750, 1, LSN))


def test_an_unreadable_heartbeat_is_malformed() -> None:
    with pytest.raises(MalformedEvent):
        decode_heartbeat(AT, b"not json")
