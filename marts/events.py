"""Debezium change events decoded into frozen dataclasses of what the marts need.

The envelope is read by core.envelope (shared with the replication
consumer); here only what the marts need is kept: the changed row's key
and, unless it is deleted, its after-image narrowed to the state table's
columns and converted to the state's types. Updates and deletes need no
before-image here: the state tables hold the old values. Tombstones decode
to no change (their offsets still count). A row inserted into
cdc_schema_changes (decode_schema_change) is a table's new definition: the
assembly checks it against what the marts read (marts.source_fit) and
applies nothing from it.
Anything unexpected raises MalformedEvent, which the caller sends to the
marts' dead-letter topic and keeps as a no-op (so its offset counts).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.envelope import Envelope, EnvelopeError, decode_envelope
from core.records import Record
from core.schema_change import SchemaRow, schema_row
from core.source.catalog import CatalogError
from core.topic_names import HEARTBEAT_TABLE, SCHEMA_CHANGES_TABLE
from core.transactions import TxTag
from marts.state_tables import STATE_TABLES, Column, Row, StateTable


class MalformedEvent(ValueError):
    """The event cannot be understood; dead-lettered, applied as nothing."""

    def __init__(self, message: str, tag: TxTag | None = None) -> None:
        super().__init__(message)
        self.tag = tag  # its transaction, when the envelope said: the transaction still counts it


class Position(Record, frozen=True):
    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


class RowChange(Record, frozen=True):
    table: str  # source table
    key: int
    after: Row | None  # None: the row is deleted


class Truncate(Record, frozen=True):
    table: str


Change = RowChange | Truncate


@dataclass(frozen=True)
class SchemaDefinition:
    """A source table's new definition, in the transaction of the DDL that made it (core.schema_change)."""

    row: SchemaRow


class Event(Record, frozen=True):
    position: Position
    # None: nothing for the marts (tombstone, malformed); a SchemaDefinition is checked, never applied
    change: Change | SchemaDefinition | None
    source_ts_ms: int | None = None  # when the source committed it
    # source.lsn of the change (core.truncation); None only for events built without one (tests, tools):
    # such a row change counts as older than any truncate, such a truncate deletes every row.
    lsn: int | None = None
    tag: TxTag | None = None  # its source transaction (core.transactions); None for snapshot reads
    commit_us: int | None = None  # when the source committed it, in microseconds (core.watermark)
    malformed: str | None = None  # why it cannot be applied: dead-lettered once released (marts.assembly)


def decode(position: Position, table: str, value: bytes | None) -> Event:
    """Decode one message value of `table`'s topic; raises MalformedEvent."""
    try:
        envelope = decode_envelope(value, table)
    except EnvelopeError as exc:
        raise MalformedEvent(str(exc)) from None
    if envelope is None:
        return Event(position, None)  # tombstone after a delete
    try:
        change = decode_change(table, envelope.op, envelope.before, envelope.after)
    except MalformedEvent as exc:
        raise MalformedEvent(str(exc), envelope.tag) from None
    return Event(position, change, envelope.ts_ms, envelope.lsn, envelope.tag, envelope.commit_us)


def _opened(value: bytes | None, table: str) -> Envelope | None:
    """The change event of a message (None: a tombstone); MalformedEvent when it is none."""
    try:
        return decode_envelope(value, table)
    except EnvelopeError as exc:
        raise MalformedEvent(str(exc)) from None


def decode_heartbeat(position: Position, value: bytes | None) -> Event:
    """A change of Debezium's heartbeat table: nothing for the marts, but a source transaction to count."""
    envelope = _opened(value, HEARTBEAT_TABLE)
    if envelope is None:
        return Event(position, None)
    return Event(position, None, envelope.ts_ms, envelope.lsn, envelope.tag, envelope.commit_us)


def decode_schema_change(position: Position, value: bytes | None) -> Event:
    """A change of cdc_schema_changes: an insert is a new definition; its snapshot reads (the history before the
    connector started) and deletes are nothing, though a delete still counts in its transaction."""
    envelope = _opened(value, SCHEMA_CHANGES_TABLE)
    if envelope is None:
        return Event(position, None)
    change = None
    if envelope.op == "c":
        try:
            change = SchemaDefinition(schema_row(envelope.after))
        except CatalogError as exc:
            raise MalformedEvent(str(exc), envelope.tag) from None
    return Event(position, change, envelope.ts_ms, envelope.lsn, envelope.tag, envelope.commit_us)


def decode_change(table_name: str, op: str, before: Any, after: Any) -> Change:
    """The marts' change of an event with `op` on `table_name` (an op core.envelope accepted)."""
    table = STATE_TABLES.get(table_name)
    if table is None:
        raise MalformedEvent(f"no state table for {table_name!r}")
    if op == "t":
        return Truncate(table_name)
    if op == "d":
        image = narrow(table, before)
        return RowChange(table_name, image[0], None)
    image = narrow(table, after)  # c, r, u
    return RowChange(table_name, image[0], image)


def narrow(table: StateTable, image: Any) -> Row:
    if not isinstance(image, dict):
        raise MalformedEvent(f"{table.source}: row image is {type(image).__name__}, not an object")
    get = image.get
    return tuple([convert(get(name, _MISSING)) for name, convert in _CONVERTERS[table.source]])


_MISSING = object()


class _Unconvertible(Exception):
    """What is wrong with a value, for MalformedEvent to say where."""


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Unconvertible("is not an integer")
    return value


def _decimal(value: Any) -> Any:
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise _Unconvertible("is not a decimal string")
    return number


def _text(value: Any) -> Any:
    if not isinstance(value, str):
        raise _Unconvertible("is not a string")
    return value


_CONVERT_KIND: dict[str, Callable[[Any], Any]] = {"id": _integer, "int": _integer, "decimal": _decimal, "text": _text}


def _converter(table: StateTable, column: Column) -> Callable[[Any], Any]:
    """The column's conversion; its errors name the column (worded only when one is raised: this runs for
    every value of every event)."""
    convert = _CONVERT_KIND[column.kind]

    def converted(value: Any) -> Any:
        if value is _MISSING or value is None:
            raise MalformedEvent(f"{table.source}.{column.name} is missing or null")
        try:
            return convert(value)
        except _Unconvertible as exc:
            raise MalformedEvent(f"{table.source}.{column.name} {exc}: {value!r}") from None

    return converted


_CONVERTERS = {table.source: tuple((column.name, _converter(table, column)) for column in table.columns)
               for table in STATE_TABLES.values()}
