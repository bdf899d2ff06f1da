"""Debezium change events (JSON without schemas) decoded into frozen dataclasses.

Only what the marts need is kept: the changed row's key and, unless it is
deleted, its after-image narrowed to the state table's columns. Updates and
deletes need no before-image here: the state tables hold the old values.
Every change carries its `source.lsn` (core.truncation orders truncates by
it); a change without one is malformed. Tombstones and heartbeats decode to
no change (their offsets still count).
Anything else unexpected raises MalformedEvent, which the caller sends to
the marts' dead-letter topic and keeps as a no-op (so its offset counts).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.truncation import source_lsn
from marts.tables import STATE_TABLES, Column, Row, StateTable


class MalformedEvent(ValueError):
    """The event cannot be understood; dead-lettered, applied as nothing."""


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class RowChange:
    table: str  # source table
    key: int
    after: Row | None  # None: the row is deleted


@dataclass(frozen=True)
class Truncate:
    table: str


Change = RowChange | Truncate


@dataclass(frozen=True)
class Event:
    position: Position
    change: Change | None  # None: nothing for the marts (tombstone, malformed)
    source_ts_ms: int | None = None  # when the source committed it
    # source.lsn of the change (core.truncation); None only for events built without one (tests, tools):
    # such a row change counts as older than any truncate, such a truncate deletes every row.
    lsn: int | None = None


def decode(position: Position, table: str, value: bytes | None) -> Event:
    """Decode one message value of `table`'s topic; raises MalformedEvent."""
    if not value:
        return Event(position, None)  # tombstone after a delete
    try:
        payload = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedEvent(f"not a JSON object: {type(payload).__name__}")
    if isinstance(payload.get("payload"), dict) and "schema" in payload:
        payload = payload["payload"]  # tolerate a converter with schemas enabled
    source = payload.get("source") if isinstance(payload.get("source"), dict) else {}
    ts = source.get("ts_ms")
    source_ts = ts if isinstance(ts, int) else None
    return Event(position, decode_change(table, payload), source_ts, event_lsn(source))


def event_lsn(source: Mapping[str, Any]) -> int:
    lsn = source_lsn(source)
    if lsn is None:
        raise MalformedEvent(f"source.lsn is missing or not a WAL position: {source.get('lsn')!r}")
    return lsn


def decode_change(table_name: str, payload: Mapping[str, Any]) -> Change:
    table = STATE_TABLES.get(table_name)
    if table is None:
        raise MalformedEvent(f"no state table for {table_name!r}")
    op = payload.get("op")
    if op in ("c", "r", "u"):
        after = narrow(table, payload.get("after"))
        return RowChange(table_name, after[0], after)
    if op == "d":
        before = narrow(table, payload.get("before"))
        return RowChange(table_name, before[0], None)
    if op == "t":
        return Truncate(table_name)
    raise MalformedEvent(f"unknown op {op!r}")


def narrow(table: StateTable, image: Any) -> Row:
    if not isinstance(image, dict):
        raise MalformedEvent(f"{table.source}: row image is {type(image).__name__}, not an object")
    return tuple(_convert(table, column, image.get(column.name, _MISSING)) for column in table.columns)


_MISSING = object()


def _convert(table: StateTable, column: Column, value: Any) -> Any:
    where = f"{table.source}.{column.name}"
    if value is _MISSING or value is None:
        raise MalformedEvent(f"{where} is missing or null")
    if column.kind in ("id", "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise MalformedEvent(f"{where} is not an integer: {value!r}")
        return value
    if column.kind == "decimal":
        try:
            number = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise MalformedEvent(f"{where} is not a decimal string: {value!r}")
        return number
    if not isinstance(value, str):
        raise MalformedEvent(f"{where} is not a string: {value!r}")
    return value
