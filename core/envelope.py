"""Debezium's change envelope: the one reading of a message value that both stages share.

A value is a JSON object {"op", "before", "after", "source", ...}; with the
converter's schemas enabled it comes wrapped as {"schema": ..., "payload":
{...}}, and both spellings are accepted. Ops: c (insert), r (snapshot
read), u (update), d (delete), t (truncate). Every change must carry its
`source.lsn` (core.truncation orders a truncate and a row change by it). A
null value is the tombstone Debezium writes after a delete, for log
compaction: it carries no change. An empty value is no tombstone but bad
input (not JSON): Debezium never writes one.

The row images are handed over as they are: each stage checks and converts
the columns it keeps into its own types (consumer.envelope, marts.events).
Of the source block only what the stages use is kept: the WAL position, the
commit time, whether the row was read by an incremental snapshot.

This runs once per consumed message, so it reads a value in one pass into
typed structs (msgspec: fields the stages do not use, most of the source
block, are skipped unread) and does only the checks on top. A value that
pass does not take (bad input, the schemas-enabled spelling, a field of an
unexpected type) is read again by the plain JSON reading below, which makes
every decision and names what is wrong: the fast pass only ever accepts
values that reading reads the same way, with one known exception. A number
a double cannot hold (1e400) in a field neither stage reads is skipped
unread by the fast pass, and the event is taken; the plain reading refuses
the whole value as not JSON. Looking for such numbers first cost more than
the fast pass saves (5 µs a message for a regular expression).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import orjson

from core.records import Record
from core.transactions import TxTag, parse_tag, tag_of
from core.truncation import lsn_of

UPSERT_OPS = frozenset({"c", "r", "u"})
OPS = UPSERT_OPS | {"d", "t"}


# Deeper values are refused before any reading: orjson 3.8.3 overflows the C stack at about 100,000 levels (a
# 400 KB value), which would kill the worker, and again after each restart. A Debezium event nests a few levels,
# a JSON column's value may add some.
MAX_NESTING = 10_000


class EnvelopeError(ValueError):
    """The message value is not a Debezium change event; the message is dead-lettered with this reason."""


class Envelope(Record, frozen=True):
    """One change event, as the stages use it."""

    op: str  # c, r, u, d or t
    before: Any  # the row image before the change (deletes, updates), as decoded JSON: unchecked
    after: Any  # the row image after the change (c, r, u), as decoded JSON: unchecked
    lsn: int  # source.lsn: the WAL position of the change (core.truncation)
    tag: TxTag | None  # the source transaction and the change's place in it; None for snapshot reads
    commit_us: int | None  # when the source committed it, in microseconds since the epoch (ts_us, else ts_ms)
    ts_ms: int | None  # the same in milliseconds (source.ts_ms)
    incremental: bool  # a row read by an incremental snapshot (`cdc backfill`)


def source_ts_ms(source: Mapping[str, Any]) -> int | None:
    """When the source committed the change (milliseconds since the epoch), if the event says."""
    ts = source.get("ts_ms")
    return ts if isinstance(ts, int) else None


def source_ts_us(source: Mapping[str, Any]) -> int | None:
    """The same in microseconds (ts_us, Debezium 2.x and later), if the event says."""
    ts = source.get("ts_us")
    return ts if isinstance(ts, int) else None


def source_commit_us(source: Mapping[str, Any]) -> int | None:
    """When the source committed the change, in microseconds since the epoch (ts_us; else ts_ms), if it says."""
    return _commit_us(source_ts_us(source), source_ts_ms(source))


def _commit_us(ts_us: int | None, ts_ms: int | None) -> int | None:
    return ts_us if ts_us is not None else None if ts_ms is None else ts_ms * 1000


def decode_envelope(value: bytes | None, table: str, reader: Reader | None = None) -> Envelope | None:
    """The change event in a message value of `table`'s topic; None for a tombstone. Raises EnvelopeError.

    `reader` (typed_reader) reads the after-image into a struct of the table's columns and types: it is then that
    struct, and a value whose image does not fit is read plainly (after: the JSON object), for the caller to say
    what is wrong."""
    if value is None:
        return None
    # Only a value longer than the limit can nest past it: counting brackets in every message cost 9 % of the
    # consumer's instructions a message.
    if len(value) > MAX_NESTING and _brackets(value) > MAX_NESTING and _nesting(value) > MAX_NESTING:
        raise EnvelopeError(f"value is nested deeper than {MAX_NESTING} levels")
    if not value.isascii() and not _is_utf8(value):  # the typed pass leaves the fields it skips unchecked
        return _decode_plainly(value, table)
    try:
        event = (reader or _READER).decode(value)
        before, after = _image(event.before), event.after
        if after.__class__ is msgspec.Raw:
            after = _image(after)
    except Exception:  # noqa: BLE001 - whatever the typed pass refuses (a RecursionError too): read below, which says what is wrong
        return _decode_plainly(value, table)
    if event.schema is not msgspec.UNSET:
        return _decode_plainly(value, table)  # a converter with schemas enabled
    source, transaction = event.source, event.transaction
    tag = None if transaction is None else tag_of(transaction.id, transaction.total_order)
    return _checked(table, event.op, before, after, tag, source.table, source.lsn, source.snapshot, source.sequence,
                    source.ts_us, source.ts_ms)


def _checked(table: str, op: Any, before: Any, after: Any, tag: TxTag | None, source_table: Any, lsn: Any,
             snapshot: Any, sequence: Any, ts_us: int | None, ts_ms: int | None) -> Envelope:
    """The envelope of an event's parts, as either reading took them; EnvelopeError when it is no change event."""
    if source_table is not None and source_table != table:
        raise EnvelopeError(f"event for table {source_table!r} on the topic of table {table!r}")
    incremental = snapshot == "incremental"
    position = lsn_of(lsn, sequence if incremental else None)
    if position is None:
        raise EnvelopeError(f"source.lsn is missing or not a WAL position: {lsn!r}")
    if not isinstance(op, str) or op not in OPS:  # a list would not even hash
        raise EnvelopeError(f"unknown or missing op {op!r}")
    return Envelope(op, before, after, position, tag, _commit_us(ts_us, ts_ms), ts_ms, incremental and op == "r")


# An integer the typed pass takes. orjson reads one beyond 64 bits as a float (and a row converter then refuses
# it); msgspec would keep it exact, and refuses bounds past int64's: those go to the plain reading.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_NULL = msgspec.Raw(b"null")


class _Source(msgspec.Struct):
    """The fields of Debezium's source block that the stages use; the others are skipped unread."""

    table: str | None = None
    lsn: Int64 | None = None
    ts_ms: Int64 | None = None
    ts_us: Int64 | None = None
    snapshot: str | None = None
    sequence: str | None = None


class _Transaction(msgspec.Struct):
    id: str
    total_order: Int64


def _image(raw: msgspec.Raw) -> Any:
    """A row image kept raw by the typed pass, as the plain reading reads it (orjson's numbers)."""
    return None if raw == _NULL else orjson.loads(memoryview(raw))


def _brackets(value: bytes) -> int:
    return value.count(b"[") + value.count(b"{")


def _nesting(value: bytes) -> int:
    """How deep the value's arrays and objects nest (brackets in strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in value:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte == 0x5B or byte == 0x7B:  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte == 0x5D or byte == 0x7D:  # ] }
            depth -= 1
    return deepest


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


Reader = msgspec.json.Decoder  # of an event type made by typed_reader


def typed_reader(image: Any = msgspec.Raw) -> Reader:
    """The first reading of events whose after-image is of type `image`: a msgspec struct type (its integers
    Int64), or by default kept raw and read as the plain reading reads it. The before-image is always kept raw."""
    after = (image, _NULL) if image is msgspec.Raw else (image | None, None)
    event = msgspec.defstruct("Event", [
        ("op", str), ("source", _Source), ("before", msgspec.Raw, _NULL), ("after", *after),
        ("transaction", _Transaction | None, None), ("schema", Any, msgspec.UNSET),
    ])
    return msgspec.json.Decoder(event)


_READER = typed_reader()


def _decode_plainly(value: bytes, table: str) -> Envelope:
    """Any value, read as plain JSON: the change event, or EnvelopeError naming what is wrong."""
    try:
        event = orjson.loads(value)
    except ValueError as exc:  # orjson.JSONDecodeError (invalid UTF-8 too) is a ValueError
        raise EnvelopeError(f"value is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise EnvelopeError(f"value is not a Debezium envelope object: {type(event).__name__}")
    if "schema" in event and isinstance(event.get("payload"), dict):
        event = event["payload"]  # a converter with schemas enabled
    source = event.get("source")
    if not isinstance(source, dict):
        raise EnvelopeError("source is missing or not an object")
    tag = parse_tag(event.get("transaction"))
    return _checked(table, event.get("op"), event.get("before"), event.get("after"), tag, source.get("table"),
                    source.get("lsn"), source.get("snapshot"), source.get("sequence"), source_ts_us(source),
                    source_ts_ms(source))
