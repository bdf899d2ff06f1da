"""Decoding Debezium events (JSON without schemas) into what the marts need."""
from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest

from core.deadletter import RawMessage
from marts.app import decode_batch
from marts.events import MalformedEvent, Position, RowChange, Truncate, decode, heartbeat_ms

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


def faust_event(offset: int, value: bytes | None) -> SimpleNamespace:
    message = SimpleNamespace(topic="shop.public.orders", partition=1, offset=offset, key=b'{"order_id":5}',
                              value=value)
    return SimpleNamespace(message=message)


def test_a_batch_keeps_malformed_events_as_no_ops_so_their_offsets_count() -> None:
    batch, _ = decode_batch([faust_event(5, b"{broken"), faust_event(6, event("c", None, ORDER)), faust_event(7, None)],
                            {"shop.public.orders": "orders"})
    assert [e.position.offset for e in batch] == [5, 6, 7]
    assert [e.change is None for e in batch] == [True, False, True]


def test_a_malformed_event_becomes_a_dead_letter_with_its_original_bytes() -> None:
    _, letters = decode_batch([faust_event(5, b"{broken"), faust_event(6, event("c", None, ORDER))],
                              {"shop.public.orders": "orders"})
    assert [(letter.raw, letter.stage) for letter in letters] == [
        (RawMessage("shop.public.orders", 1, 5, b'{"order_id":5}', b"{broken"), "decode")]
    assert letters[0].error.startswith("value is not JSON")


def test_a_heartbeat_gives_its_source_commit_time() -> None:
    value = event("u", None, {"id": 1, "ts": 5}, {"table": "cdc_heartbeat", "ts_ms": 1700000000999, "lsn": LSN})
    assert heartbeat_ms(value) == 1700000000999


@pytest.mark.parametrize("value", [None, b"not json"])
def test_a_heartbeat_tombstone_or_unreadable_message_has_no_commit_time(value: bytes | None) -> None:
    assert heartbeat_ms(value) is None
