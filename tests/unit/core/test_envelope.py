"""The shared Debezium envelope decoder: both spellings of an event, tombstones, and what it refuses."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core.envelope import EnvelopeError, decode_envelope, source_ts_ms
from core.transactions import TxTag

LSN = 26734192
SOURCE = {"table": "orders", "lsn": LSN, "ts_ms": 1700000000123}
ROW = {"order_id": 5, "status": "paid"}


def value(event: Any) -> bytes:
    return json.dumps(event).encode()


def event(op: Any = "u", **fields: Any) -> dict[str, Any]:
    return {"op": op, "before": {**ROW, "status": "pending"}, "after": ROW, "source": SOURCE, "ts_ms": 1, **fields}


def with_schema(payload: dict[str, Any]) -> dict[str, Any]:
    return {"schema": {"type": "struct", "name": "shop.public.orders.Envelope"}, "payload": payload}


def test_an_event_decodes_to_op_images_source_and_lsn() -> None:
    assert decode_envelope(value(event()), "orders") == ("u", {**ROW, "status": "pending"}, ROW, SOURCE, LSN, None)


def test_an_event_of_a_source_transaction_carries_its_xid_and_place() -> None:
    block = {"id": "741:26765104", "total_order": 2, "data_collection_order": 1}
    envelope = decode_envelope(value(event(transaction=block)), "orders")
    assert envelope is not None and envelope[5] == TxTag(741, 2, 26765104)


def test_an_event_wrapped_with_its_schema_decodes_alike() -> None:
    assert decode_envelope(value(with_schema(event())), "orders") == decode_envelope(value(event()), "orders")


@pytest.mark.parametrize("op", ["c", "r", "u", "d", "t"])
def test_every_debezium_op_is_accepted(op: str) -> None:
    decoded = decode_envelope(value(event(op)), "orders")
    assert decoded is not None and decoded[0] == op


def test_a_tombstone_is_no_event() -> None:
    assert decode_envelope(None, "orders") is None


def test_an_empty_value_is_no_tombstone_but_not_json() -> None:
    with pytest.raises(EnvelopeError, match="^value is not JSON"):
        decode_envelope(b"", "orders")


def test_an_event_without_a_source_table_is_taken_for_its_topics_table() -> None:
    decoded = decode_envelope(value(event(source={"lsn": LSN})), "orders")
    assert decoded is not None and decoded[4] == LSN


@pytest.mark.parametrize(("message", "error"), [
    (b"{not json", "value is not JSON"),
    (b"\xff\xfe", "value is not JSON"),
    (value([1, 2]), "value is not a Debezium envelope object: list"),
    (value(event(source=None)), "source is missing or not an object"),
    (value(event(source=[SOURCE])), "source is missing or not an object"),
    (value(event(source={**SOURCE, "table": "users"})), "event for table 'users' on the topic of table 'orders'"),
    (value(event(source={"table": "orders"})), "source.lsn is missing or not a WAL position: None"),
    (value(event(source={**SOURCE, "lsn": "26734192"})), "source.lsn is missing"),
    (value(event(source={**SOURCE, "lsn": True})), "source.lsn is missing"),
    (value(event(source={**SOURCE, "lsn": -1})), "source.lsn is missing"),
    (value(event("x")), "unknown or missing op 'x'"),
    (value(event(None)), "unknown or missing op None"),
    (value(event(["c"])), "unknown or missing op ['c']"),
    (value(with_schema(event("x"))), "unknown or missing op 'x'"),
])
def test_what_is_not_a_change_event_raises_envelope_error(message: bytes, error: str) -> None:
    with pytest.raises(EnvelopeError, match="^" + re.escape(error)):
        decode_envelope(message, "orders")


def test_the_commit_time_is_read_when_it_is_an_integer() -> None:
    assert source_ts_ms(SOURCE) == 1700000000123
    assert source_ts_ms({"ts_ms": "soon"}) is None and source_ts_ms({}) is None
