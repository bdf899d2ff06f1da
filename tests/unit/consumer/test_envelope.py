"""Decoding Debezium messages: changes, tombstones, and errors as data."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from consumer.envelope import ChangeEvent, DecodeError, Skip, _change_or_error, decode, decode_heartbeat
from consumer.replica_schema import REPLICA_TABLES
from core.deadletter import RawMessage
from core.envelope import EnvelopeError, _decode_plainly

TOPICS = {f"shop.public.{name}": spec for name, spec in REPLICA_TABLES.items()}
ORDER = {"order_id": 5, "user_id": 7, "order_date": "2026-03-29T01:59:59.999999Z",
         "total_amount": "1234567890.12", "status": "pending", "delivery_date": 1}
LSN = 26734192
ORDER_ROW = (5, 7, datetime(2026, 3, 29, 1, 59, 59, 999999), Decimal("1234567890.12"), "pending", date(1970, 1, 2))


ORDER_KEY = {"order_id": 5}


def raw(value: Any, key: Any = ORDER_KEY, topic: str = "shop.public.orders") -> RawMessage:
    encode = lambda item: item if isinstance(item, bytes) or item is None else json.dumps(item).encode()  # noqa: E731
    return RawMessage(topic, 2, 41, encode(key), encode(value))


def envelope(op: str, before: Any = None, after: Any = None) -> dict[str, Any]:
    return {"op": op, "before": before, "after": after, "source": {"table": "orders", "lsn": LSN}, "ts_ms": 1}


@pytest.mark.parametrize("op", ["c", "r", "u"])
def test_upserts_carry_the_converted_row(op: str) -> None:
    event = decode(raw(envelope(op, ORDER if op == "u" else None, ORDER)), TOPICS)
    assert isinstance(event, ChangeEvent)
    assert (event.table, event.op, event.key, event.row, event.old_key) == ("orders", op, (5,), ORDER_ROW, None)


def test_change_carries_its_source_lsn() -> None:
    event = decode(raw(envelope("c", None, ORDER)), TOPICS)
    assert isinstance(event, ChangeEvent) and event.lsn == LSN


def test_delete_uses_the_message_key() -> None:
    event = decode(raw(envelope("d", ORDER, None)), TOPICS)
    assert isinstance(event, ChangeEvent) and event.is_delete and event.key == (5,) and event.row is None


def test_update_that_moves_the_key_remembers_the_old_key() -> None:
    moved = {**ORDER, "order_id": 6}
    event = decode(raw(envelope("u", ORDER, moved), key={"order_id": 6}), TOPICS)
    assert isinstance(event, ChangeEvent) and (event.key, event.old_key) == ((6,), (5,))


def test_truncate_has_no_key() -> None:
    event = decode(raw(envelope("t"), key=None), TOPICS)
    assert isinstance(event, ChangeEvent) and event.is_truncate and event.key is None and event.lsn == LSN


def test_tombstone_is_skipped() -> None:
    assert isinstance(decode(raw(None), TOPICS), Skip)


@pytest.mark.parametrize(("message", "error"), [
    (raw(b"not json{"), "value is not JSON"),
    (raw(b"\xff\xfe"), "value is not JSON"),
    (raw([1, 2]), "not a Debezium envelope"),
    (raw(envelope("x", None, ORDER)), "unknown or missing op 'x'"),
    (raw({"after": ORDER, "source": {"lsn": LSN}}), "unknown or missing op None"),
    (raw(envelope("c", None, None)), "after is missing"),
    (raw(envelope("c", None, {k: v for k, v in ORDER.items() if k != "status"})), "lacks columns of the replica table orders: status"),
    (raw(envelope("c", None, {**ORDER, "coupon": "X"})), "columns the replica table orders does not: coupon"),
    (raw(envelope("c", None, ORDER), key=None), "missing message key"),
    (raw(envelope("d", ORDER, None), key=None), "missing message key"),
    (raw(envelope("c", None, ORDER), key={"id": 5}), "lacks the primary key order_id"),
    (raw(envelope("c", None, ORDER), key={"order_id": 6}), "differs from the row's primary key"),
    (raw(envelope("c", None, {**ORDER, "total_amount": 12.5})), "column total_amount"),
    (raw(envelope("c", None, {**ORDER, "order_date": "0001-01-01T00:00:00Z"})), "outside the MySQL/MariaDB"),
    (raw(envelope("c", None, {**ORDER, "status": None})), "column status is NOT NULL but the value is null"),
    (raw(envelope("c", None, {**ORDER, "delivery_date": True})), "column delivery_date: expected an integer"),
    (raw(envelope("c", None, {**ORDER, "delivery_date": 10**9})), "column delivery_date: 1000000000 days"),
    (raw(envelope("c", None, {**ORDER, "delivery_date": [1]})), "column delivery_date: expected an integer"),
    (raw(envelope("c", None, {k: v for k, v in ORDER.items() if k != "status"} | {"order_date": 5})),
     "column order_date"),
    (raw(envelope("c", None, ORDER), topic="shop.public.coupons"), "unknown topic"),
    (raw({**envelope("c", None, ORDER), "source": {"table": "users", "lsn": LSN}}), "event for table 'users'"),
    (raw({**envelope("t"), "source": {"table": "orders"}}, key=None), "source.lsn is missing"),
    (raw({**envelope("c", None, ORDER), "source": {"table": "orders", "lsn": "26734192"}}), "source.lsn is missing"),
    (raw({**envelope("c", None, ORDER), "source": {"table": "orders", "lsn": True}}), "source.lsn is missing"),
    (raw({**envelope("d", ORDER, None), "source": None}), "source is missing"),
])
def test_bad_messages_become_decode_errors_with_the_original_bytes(message: RawMessage, error: str) -> None:
    result = decode(message, TOPICS)
    assert isinstance(result, DecodeError), result
    assert error in result.error
    assert result.raw is message


def test_a_null_in_a_nullable_column_is_kept() -> None:
    result = decode(raw(envelope("c", None, {**ORDER, "delivery_date": None})), TOPICS)
    assert isinstance(result, ChangeEvent) and result.row == (*ORDER_ROW[:-1], None)


def test_debeziums_compact_key_bytes_and_other_spellings_decode_alike() -> None:
    compact = decode(raw(envelope("c", None, ORDER), key=b'{"order_id":5}'), TOPICS)
    spaced = decode(raw(envelope("c", None, ORDER), key=b'{ "order_id" : 5 }'), TOPICS)
    assert isinstance(compact, ChangeEvent) and isinstance(spaced, ChangeEvent)
    assert compact.key == spaced.key == (5,)
    wrong = decode(raw(envelope("c", None, ORDER), key=b'{"order_id":50}'), TOPICS)
    assert isinstance(wrong, DecodeError) and "differs" in wrong.error


def test_an_event_wrapped_with_its_schema_decodes_like_one_without() -> None:
    wrapped = decode(raw({"schema": {"type": "struct"}, "payload": envelope("c", None, ORDER)}), TOPICS)
    assert isinstance(wrapped, ChangeEvent) and (wrapped.key, wrapped.row, wrapped.lsn) == ((5,), ORDER_ROW, LSN)


def test_change_carries_its_source_commit_time() -> None:
    value = envelope("c", None, ORDER)
    value["source"]["ts_ms"] = 1_700_000_000_123
    event = decode(raw(value), TOPICS)
    assert isinstance(event, ChangeEvent) and event.commit_us == 1_700_000_000_123_000


def test_a_heartbeat_is_a_skip_with_its_source_commit_time() -> None:
    value = {"op": "u", "before": None, "after": {"id": 1, "ts": 5},
             "source": {"table": "cdc_heartbeat", "lsn": LSN, "ts_ms": 1_700_000_000_456}}
    heartbeat = decode_heartbeat(raw(value, {"id": 1}, "shop.public.cdc_heartbeat"))
    assert heartbeat == Skip(heartbeat.raw, "heartbeat", commit_us=1_700_000_000_456_000)


def test_a_heartbeat_that_is_no_envelope_is_a_decode_error() -> None:
    assert isinstance(decode_heartbeat(raw(b"nope", {"id": 1}, "shop.public.cdc_heartbeat")), DecodeError)


# Row images the typed first reading (core.envelope.typed_reader) may take or leave to the plain one.
ODD_ORDERS = [
    ORDER, {**ORDER, "delivery_date": None}, {**ORDER, "status": None}, {**ORDER, "user_id": True},
    {**ORDER, "user_id": 7.0}, {**ORDER, "user_id": "7"}, {**ORDER, "user_id": 2**70}, {**ORDER, "user_id": 2**64 - 1},
    {**ORDER, "user_id": 2**63}, {**ORDER, "user_id": -(2**63) - 1}, {**ORDER, "delivery_date": 2**70},
    {**ORDER, "order_id": 2**70}, {**ORDER, "total_amount": 12},
    {**ORDER, "total_amount": "1e5"}, {**ORDER, "total_amount": "NaN"}, {**ORDER, "order_date": "2026-03-29"},
    {**ORDER, "order_date": "0999-12-31T23:59:59Z"}, {**ORDER, "delivery_date": -10_000_000},
    {**ORDER, "delivery_date": True}, {**ORDER, "coupon": "X"}, {k: v for k, v in ORDER.items() if k != "status"},
    {**ORDER, "order_id": 6}, [1], "x", None,
]


@pytest.mark.parametrize("image", ODD_ORDERS)
@pytest.mark.parametrize("op", ["c", "u"])
def test_the_typed_reading_decodes_a_row_as_the_plain_reading(image: Any, op: str) -> None:
    message = raw(envelope(op, ORDER, image))
    spec = TOPICS["shop.public.orders"]
    plainly = _change_or_error(message, spec, _decode_plainly(message.value or b"", "orders"))
    assert decode(message, TOPICS) == plainly


@pytest.mark.parametrize("value", [
    b'{"op":"c","after":{"order_id":5},"source":{"table":"orders","lsn":1,"db":"\xff"}}',
    b'{"op":"c","after":{"order_id":5,"status":"\xed\xa0\x80"},"source":{"table":"orders","lsn":1}}',
    b'{"op":"c\xc3\xa9","source":{"table":"orders","lsn":1}}',
    b'{"op":"c","x":' + b"[" * 5000 + b"]" * 5000 + b',"source":{"table":"orders","lsn":1}}',
])
def test_the_typed_reading_decodes_raw_odd_bytes_as_the_plain_reading(value: bytes) -> None:
    message = RawMessage("shop.public.orders", 2, 41, json.dumps(ORDER_KEY).encode(), value)
    spec = TOPICS["shop.public.orders"]
    try:
        plainly: object = _change_or_error(message, spec, _decode_plainly(value, "orders"))
    except EnvelopeError as exc:
        plainly = DecodeError(message, str(exc))
    assert decode(message, TOPICS) == plainly
