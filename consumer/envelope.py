"""Decode one Debezium message into a change of a replica table, a skip, or a decode error.

Errors are data: `decode` never raises for bad input, it returns DecodeError
carrying the original message, so the caller dead-letters it and goes on.

The envelope is read by core.envelope; here its row images become replica
rows (consumer.types converts each column) and the message key is checked.
Ops: c (insert), r (snapshot read), u (update) -> upsert of `after`;
d -> delete of the key; t (truncate, key null) -> empty the table of the
rows written before it (by `source.lsn`: see core.truncation); a tombstone
carries nothing for the replica. A change of Debezium's heartbeat table
(`decode_heartbeat`) is a Skip that carries its source commit time: nothing
is applied from it, but it tells the metrics how current the replica is when
the shop is idle. Debezium turns a primary key change into a
delete of the old key plus a create of the new one; an update whose
`before` has another key than its `after` is still handled (old key
deleted) in case another producer emits it that way.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from consumer.replica_schema import TableSpec
from consumer.types import ValueConversionError
from core.deadletter import RawMessage
from core.envelope import UPSERT_OPS, Envelope, EnvelopeError, decode_envelope
from core.records import Record
from core.schema_change import schema_row
from core.source.catalog import PUBLICATION_COMMAND, CatalogError, CatalogTable
from core.topic_names import HEARTBEAT_TABLE, SCHEMA_CHANGES_TABLE, SIGNALS_TABLE, SOURCE_SCHEMA
from core.transactions import TxTag

Key = tuple[Any, ...]
Row = tuple[Any, ...]


class ChangeEvent(Record, frozen=True):
    table: str
    op: str  # c, r, u, d or t
    key: Key | None  # primary key values; None for a truncate
    row: Row | None  # MySQL values in column order, for c/r/u
    raw: RawMessage
    lsn: int  # source.lsn: the WAL position of the change (core.truncation)
    old_key: Key | None = None  # an update that moved the row to another key
    tag: TxTag | None = None  # its source transaction (core.transactions); None for snapshot reads
    commit_us: int | None = None  # when the source committed it (microseconds since the epoch)
    backfill: bool = False  # a read of an incremental snapshot (`cdc backfill`), at lsn

    @property
    def is_truncate(self) -> bool:
        return self.op == "t"

    @property
    def is_delete(self) -> bool:
        return self.op == "d"


class Skip(Record, frozen=True):
    """A message with nothing to apply (a tombstone)."""

    raw: RawMessage
    reason: str
    tag: TxTag | None = None  # a heartbeat table change: part of a source transaction
    commit_us: int | None = None


class DecodeError(Record, frozen=True):
    raw: RawMessage
    error: str
    tag: TxTag | None = None  # known when the envelope was readable: the transaction still counts it
    # The row's columns are not the replica table's: decoded again once earlier schema changes are applied,
    # and if it still does not fit, its table pauses (consumer.schema); never dead-lettered.
    shape: bool = False
    backfill_lsn: int | None = None  # a backfill's read of a table not (yet) replicated: where its window is


@dataclass(frozen=True)
class SchemaChange:
    """A new source definition of a table (a row of cdc_schema_changes: core.source.catalog)."""

    raw: RawMessage
    version: int  # the row's id
    definition: CatalogTable
    tag: TxTag | None
    commit_us: int | None
    statement: str | None = None  # the DDL's text
    command: str | None = None  # what recorded it: ALTER TABLE, CREATE TABLE, ALTER PUBLICATION (a table added to it)

    @property
    def publishes(self) -> bool:
        """The table was added to the publication (migration 0005): its replica table is made at this point."""
        return self.command == PUBLICATION_COMMAND


@dataclass(frozen=True)
class BackfillSignal:
    """An execute-snapshot signal (`cdc backfill`): the tables the connector is about to re-read."""

    raw: RawMessage
    tables: tuple[str, ...]
    signal: str  # its id
    tag: TxTag | None
    commit_us: int | None


Decoded = ChangeEvent | Skip | DecodeError | SchemaChange | BackfillSignal


class _Invalid(Exception):
    pass


class _Shape(_Invalid):
    """The row's columns differ from the replica table's."""


class _ReadAgain(Exception):
    """A value of the typed reading that a converter refuses: the message is read plainly, which names the column."""


def decode(raw: RawMessage, tables: Mapping[str, TableSpec]) -> ChangeEvent | Skip | DecodeError:
    """`tables` maps each consumed topic to its replica table."""
    spec = tables.get(raw.topic)
    if spec is None:  # a table added to the publication, until its definition is released: held with its transaction
        opened = _envelope(raw, raw.topic.rsplit(".", 1)[-1])
        if isinstance(opened, Skip):
            return opened
        tag = opened.tag if isinstance(opened, Envelope) else None
        backfill_lsn = opened.lsn if isinstance(opened, Envelope) and opened.incremental else None
        return DecodeError(raw, f"unknown topic {raw.topic!r}: no replica table for it", tag,
                           backfill_lsn=backfill_lsn)
    try:
        envelope = decode_envelope(raw.value, spec.name, spec.reader)
    except EnvelopeError as exc:
        return DecodeError(raw, str(exc))
    if envelope is None:
        return Skip(raw, "tombstone")
    try:
        return _change_or_error(raw, spec, envelope)
    except _ReadAgain:  # a column's converter refused a value of the typed reading: read plainly, for the message
        return _change_or_error(raw, spec, decode_envelope(raw.value, spec.name))


def _change_or_error(raw: RawMessage, spec: TableSpec, envelope: Envelope | None) -> ChangeEvent | DecodeError:
    assert envelope is not None  # read once already
    # _ReadAgain passes through: only the typed reading's image raises it
    try:
        return _change(raw, spec, envelope)
    except (_Invalid, ValueConversionError) as exc:
        return DecodeError(raw, str(exc), envelope.tag, isinstance(exc, _Shape))


def decode_signal(raw: RawMessage) -> BackfillSignal | Skip | DecodeError:
    """A change of the signal table: a backfill asked for, or (the connector's own window marks, deletes) nothing."""
    envelope = _envelope(raw, SIGNALS_TABLE)
    if not isinstance(envelope, Envelope):
        return envelope
    after, tag, commit_us = envelope.after, envelope.tag, envelope.commit_us
    if envelope.op != "c" or not isinstance(after, dict) or after.get("type") != "execute-snapshot":
        return Skip(raw, "signal", tag, commit_us)
    try:
        data = json.loads(str(after.get("data")))
        tables = tuple(str(name).removeprefix(f"{SOURCE_SCHEMA}.") for name in data["data-collections"])
    except (ValueError, TypeError, KeyError):
        return Skip(raw, "signal", tag, commit_us)  # the connector's to refuse
    if data.get("type", "incremental") != "incremental" or data.get("additional-conditions"):
        return Skip(raw, "a partial or blocking snapshot: no backfill to recreate a table with", tag, commit_us)
    return BackfillSignal(raw, tables, str(after.get("id")), tag, commit_us)


def decode_schema_change(raw: RawMessage) -> SchemaChange | Skip | DecodeError:
    """A change of cdc_schema_changes. Its snapshot rows and deletes are Skips: the consumer read the snapshot's
    definitions at start (consumer.schema_history), and a deleted row changes nothing."""
    envelope = _envelope(raw, SCHEMA_CHANGES_TABLE)
    if not isinstance(envelope, Envelope):
        return envelope
    if envelope.op != "c":
        return Skip(raw, "schema history", envelope.tag, envelope.commit_us)
    try:
        row = schema_row(envelope.after)
        return SchemaChange(raw, row.version, row.definition, envelope.tag, envelope.commit_us, row.statement,
                            row.command)
    except CatalogError as exc:
        return DecodeError(raw, str(exc), envelope.tag)


def _envelope(raw: RawMessage, table: str) -> Envelope | Skip | DecodeError:
    """The message's change event; a Skip for a tombstone, a DecodeError for what is no change event."""
    try:
        envelope = decode_envelope(raw.value, table)
    except EnvelopeError as exc:
        return DecodeError(raw, str(exc))
    return Skip(raw, "tombstone") if envelope is None else envelope


def decode_heartbeat(raw: RawMessage) -> Skip | DecodeError:
    """A change of Debezium's heartbeat table: nothing to replicate, but a source transaction to count."""
    envelope = _envelope(raw, HEARTBEAT_TABLE)
    if not isinstance(envelope, Envelope):
        return envelope
    return Skip(raw, "heartbeat", envelope.tag, envelope.commit_us)


def _change(raw: RawMessage, spec: TableSpec, envelope: Envelope) -> ChangeEvent:
    op, before, after, lsn, tag, commit_us = (envelope.op, envelope.before, envelope.after, envelope.lsn,
                                              envelope.tag, envelope.commit_us)
    if op == "t":
        return ChangeEvent(spec.name, "t", None, None, raw, lsn, None, tag, commit_us)
    if op in UPSERT_OPS:
        row = _row(spec, after, "after")
        key = tuple([row[position] for position in spec.key_positions])
        if raw.key != _debezium_key(spec, key):  # fast path: Debezium's exact bytes
            message_key = _message_key(raw, spec)
            if message_key != key:
                raise _Invalid(f"message key {message_key} differs from the row's primary key {key}")
        old_key = _before_key(spec, before) if op == "u" and isinstance(before, dict) else None
        return ChangeEvent(spec.name, op, key, row, raw, lsn, old_key if old_key != key else None, tag, commit_us,
                           envelope.incremental)
    return ChangeEvent(spec.name, "d", _message_key(raw, spec), None, raw, lsn, None, tag, commit_us)  # op d


def follows_lsn(decoded: Decoded) -> int | None:
    """Where a backfill's read was taken (its window): it is released only after the source transactions committed
    before that point (its signal, the window's mark; core.transactions), a table's publication among them."""
    if isinstance(decoded, ChangeEvent) and decoded.backfill:
        return decoded.lsn
    return decoded.backfill_lsn if isinstance(decoded, DecodeError) else None


def _row(spec: TableSpec, data: Any, field: str) -> Row:
    if isinstance(data, msgspec.Struct):  # the typed reading's image (core.envelope): of the table's shape
        try:
            return spec.convert_image(data)
        except ValueConversionError:
            raise _ReadAgain from None
    if not isinstance(data, dict):
        raise _Invalid(f"{field} is missing or not an object")
    try:
        row = spec.read_row(data)
    except KeyError:
        row = None
    except ValueConversionError:
        row = _checked_row(spec, data)  # raises again, naming the column
    if row is None or len(data) != len(row):
        unknown = sorted(set(data) - set(spec.column_names))
        if unknown:
            raise _Shape(f"{field} has columns the replica table {spec.name} does not: {', '.join(unknown)}")
        missing = [column.name for column in spec.columns if column.name not in data]
        raise _Shape(f"{field} lacks columns of the replica table {spec.name}: {', '.join(missing)}")
    return row


def _checked_row(spec: TableSpec, data: dict[str, Any]) -> Row | None:
    try:
        return tuple([column.convert(data[column.name]) for column in spec.columns])
    except KeyError:
        return None


def _key_values(spec: TableSpec, data: Any, what: str) -> Key:
    if not isinstance(data, dict) or any(name not in data for name in spec.key):
        raise _Invalid(f"{what} lacks the primary key {', '.join(spec.key)}")
    values = tuple([spec.columns[position].convert(data[name])
                    for name, position in zip(spec.key, spec.key_positions, strict=True)])
    if any(value is None for value in values):
        raise _Invalid(f"{what} has a null primary key")
    return values


def _debezium_key(spec: TableSpec, key: Key) -> bytes:
    """The key as Debezium's JSON converter writes it, e.g. b'{"order_id":5}' (int keys only)."""
    return (spec.key_json % key).encode()


def _message_key(raw: RawMessage, spec: TableSpec) -> Key:
    if raw.key is None:
        raise _Invalid("missing message key")
    try:
        key = orjson.loads(raw.key)
    except ValueError as exc:  # orjson.JSONDecodeError (invalid UTF-8 too) is a ValueError
        raise _Invalid(f"key is not JSON: {exc}") from None
    return _key_values(spec, key, "message key")


def _before_key(spec: TableSpec, before: dict[str, Any]) -> Key | None:
    try:
        return _key_values(spec, before, "before")
    except (_Invalid, ValueConversionError):
        return None
