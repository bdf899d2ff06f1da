"""The shared Debezium envelope decoder: both spellings of an event, tombstones, and what it refuses."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core.envelope import (
    MAX_NESTING,
    Envelope,
    EnvelopeError,
    _decode_plainly,
    decode_envelope,
    source_commit_us,
    source_ts_ms,
)
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


def test_an_event_decodes_to_op_images_lsn_and_commit_time() -> None:
    assert decode_envelope(value(event()), "orders") == Envelope("u", {**ROW, "status": "pending"}, ROW, LSN, None,
                                                                 1700000000123000, 1700000000123, False)


def test_the_commit_time_in_microseconds_is_ts_us_when_the_event_has_it() -> None:
    envelope = decode_envelope(value(event(source={**SOURCE, "ts_us": 1700000000123456})), "orders")
    assert envelope is not None and (envelope.commit_us, envelope.ts_ms) == (1700000000123456, 1700000000123)


def test_a_row_read_by_an_incremental_snapshot_is_placed_at_the_end_of_its_sequence() -> None:
    source = {"table": "orders", "lsn": None, "snapshot": "incremental", "sequence": '["30004000","30004320"]'}
    envelope = decode_envelope(value(event("r", source=source)), "orders")
    assert envelope is not None and (envelope.lsn, envelope.incremental) == (30004320, True)


def test_an_event_of_a_source_transaction_carries_its_xid_and_place() -> None:
    block = {"id": "741:26765104", "total_order": 2, "data_collection_order": 1}
    envelope = decode_envelope(value(event(transaction=block)), "orders")
    assert envelope is not None and envelope.tag == TxTag(741, 2, 26765104)


def test_an_event_wrapped_with_its_schema_decodes_alike() -> None:
    assert decode_envelope(value(with_schema(event())), "orders") == decode_envelope(value(event()), "orders")


@pytest.mark.parametrize("op", ["c", "r", "u", "d", "t"])
def test_every_debezium_op_is_accepted(op: str) -> None:
    decoded = decode_envelope(value(event(op)), "orders")
    assert decoded is not None and decoded.op == op


def test_a_tombstone_is_no_event() -> None:
    assert decode_envelope(None, "orders") is None


def test_an_empty_value_is_no_tombstone_but_not_json() -> None:
    with pytest.raises(EnvelopeError, match="^value is not JSON"):
        decode_envelope(b"", "orders")


def test_an_event_without_a_source_table_is_taken_for_its_topics_table() -> None:
    decoded = decode_envelope(value(event(source={"lsn": LSN})), "orders")
    assert decoded is not None and decoded.lsn == LSN


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


# Values the typed first reading may take or leave to the plain one: whichever reads it, the result is the same.
ODD_VALUES = [
    event(), event("r"), event("d", after=None), event(transaction={"id": "741:26765104", "total_order": 2}),
    event(transaction={"id": "741", "total_order": 2}), event(transaction={"id": 741, "total_order": 2}),
    event(transaction={"id": "741:5", "total_order": "2"}), event(transaction={"id": "x:5", "total_order": 2}),
    event(transaction={"id": "741:5", "total_order": True}), event(transaction=[1]), event(transaction=None),
    event(source={**SOURCE, "ts_ms": True}), event(source={**SOURCE, "ts_ms": 1.5}),
    event(source={**SOURCE, "ts_us": "x"}), event(source={**SOURCE, "lsn": 5.0}), event(source={**SOURCE, "lsn": 0}),
    event(source={**SOURCE, "table": 5}), event(source={**SOURCE, "snapshot": True}),
    event("r", source={"lsn": None, "snapshot": "incremental", "sequence": ["1", "2"]}),
    event("r", source={"lsn": None, "snapshot": "incremental", "sequence": '["1", null]'}),
    event("c", source={"lsn": None, "snapshot": "incremental", "sequence": '["1","2"]'}),
    event(op=5), event(before=[1], after="x"), event(source={**SOURCE, "lsn": 2**64}),
    event(source={**SOURCE, "lsn": 2**63}), event(source={**SOURCE, "ts_ms": 10**30}),
    event(source={**SOURCE, "ts_us": -(2**63) - 1}), event(transaction={"id": "741:5", "total_order": 2**70}),
    event(after={"order_id": 2**70, "n": -(2**64)}), event(before={"order_id": 2**64 - 1}), {"op": "c", "source": SOURCE}, {"source": SOURCE},
    with_schema(event()), {**event(), "schema": None}, {**event(), "payload": {"op": "x"}}, [event()], "c", 5,
]


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_the_first_reading_decodes_as_the_plain_reading(odd: Any) -> None:
    def outcome(read: Any) -> Any:
        try:
            return read(value(odd), "orders")
        except EnvelopeError as exc:
            return str(exc)
    assert outcome(decode_envelope) == outcome(_decode_plainly)


def test_the_commit_time_in_microseconds_falls_back_to_ts_ms() -> None:
    assert source_commit_us(SOURCE) == 1700000000123000 and source_commit_us({}) is None


@pytest.mark.parametrize("odd", [
    b'{"op":"c","source":{"table":"orders","lsn":1,"db":"\xff"}}',
    b'{"op":"c","source":{"table":"orders","lsn":1,"name":"\xed\xa0\x80"}}',
    b'{"op":"c","after":{"s":"\xc3\x28"},"source":{"table":"orders","lsn":1}}',
    b'{"op":"\xc3\x28","source":{"table":"orders","lsn":1}}',
    b'{"op":"c","x":' + b"[" * 5000 + b"]" * 5000 + b',"source":{"table":"orders","lsn":1}}',
    b'{"op":"c","after":{"n":1e400},"source":{"table":"orders","lsn":1}}',
])
def test_the_first_reading_decodes_odd_bytes_as_the_plain_reading(odd: bytes) -> None:
    def outcome(read: Any) -> Any:
        try:
            return read(odd, "orders")
        except EnvelopeError as exc:
            return str(exc)
    assert outcome(decode_envelope) == outcome(_decode_plainly)


def test_a_value_nested_deeper_than_the_limit_is_refused_before_it_is_read() -> None:
    deep = b'{"op":"c","x":' + b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1) + b',"source":{"lsn":1}}'
    with pytest.raises(EnvelopeError, match=f"^value is nested deeper than {MAX_NESTING} levels$"):
        decode_envelope(deep, "orders")


def test_brackets_in_strings_do_not_count_as_nesting() -> None:
    text = json.dumps("[{" * MAX_NESTING + '\\" [')
    decoded = decode_envelope(value(event(after={**ROW, "status": json.loads(text)})), "orders")
    assert decoded is not None and decoded.after["status"] == json.loads(text)
