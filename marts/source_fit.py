"""Whether a source table's new definition still fits what the marts read of it.

The marts read a few columns of each source table (the state tables' columns,
marts.state_tables, under their source names) and decode every value exactly
(marts.events): an integer, a decimal string, a string, never null. A new
definition (core.source.catalog, streamed from cdc_schema_changes) fits when
each of those columns is still there under its name, still NOT NULL, with a
type whose values decode to the same numbers and strings:
- integers: smallint, integer, bigint (the state holds BIGINT);
- decimals: numeric(p,s) whose values the state's DECIMAL holds exactly (scale
  and integer digits no larger): numeric(12,2) -> numeric(14,2) fits,
  numeric(14,4) or numeric(16,2) does not;
- text: text, character varying, character varying(n) (character(n) pads values
  with blanks: other names and statuses);
and when the table's primary key is still the state table's key.
Nullability counts: every mart sums or joins on these columns as NOT NULL
(a null would be dead-lettered, or drop a row out of a sum), so DROP NOT NULL
of a column the marts read is a misfit too. Added columns, and any change of
a column the marts do not read, never matter. Tables the marts do not read
are not looked at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.source.catalog import CatalogColumn, CatalogTable, catalog_of
from core.source.tables import TABLES
from marts.state_tables import STATE_TABLES, Column, StateTable

_INTEGERS = frozenset({"smallint", "integer", "bigint"})
_TEXT = re.compile(r"text|character varying(\(\d+\))?")
_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


@dataclass(frozen=True)
class Misfit:
    """A column the marts read that a definition changed beyond what they decode exactly."""

    table: str
    column: str
    change: str  # "dropped", "renamed to qty", "type numeric(12,2) -> numeric(14,4) (...)", ...

    def __str__(self) -> str:
        return f"{self.table}.{self.column} {self.change}"


class SourceShapes:
    """The definitions seen so far of the tables the marts read (to name a change: a rename keeps its attnum),
    starting from the shop's tables as the migrations create them."""

    def __init__(self) -> None:
        self._latest: dict[str, CatalogTable] = {}

    def check(self, definition: CatalogTable) -> tuple[Misfit, ...]:
        """The misfits of a table's new definition (none for a table the marts do not read); it becomes the
        table's latest."""
        state = STATE_TABLES.get(definition.name)
        if state is None:
            return ()
        previous = self._latest.get(definition.name) or catalog_of(TABLES[definition.name])
        self._latest[definition.name] = definition
        return misfits(state, previous, definition)


def misfits(state: StateTable[Any], previous: CatalogTable, new: CatalogTable) -> tuple[Misfit, ...]:
    found = [Misfit(new.name, column.name, change) for column in state.columns
             if (change := column_change(column, _named(previous, column.name), new)) is not None]
    if new.key != (state.key,):
        found.append(Misfit(new.name, state.key, f"no longer the primary key (now {', '.join(new.key) or 'none'})"))
    return tuple(found)


def column_change(column: Column, previous: CatalogColumn | None, new: CatalogTable) -> str | None:
    """What the new definition did to a column the marts read; None when they decode it as before."""
    current = _named(new, column.name)
    if current is None:
        moved = new.column(previous.attnum) if previous is not None else None
        return f"renamed to {moved.name}" if moved is not None else "dropped"
    if not decodes_exactly(column, current.pg_type):
        was = f"{previous.pg_type} -> " if previous is not None else ""
        return f"type {was}{current.pg_type} ({_why(column)})"
    if current.nullable:
        return "made nullable (DROP NOT NULL): the marts count every row with a value"
    return None


def decodes_exactly(column: Column, pg_type: str) -> bool:
    """Whether the marts decode the values of a column of this PostgreSQL type as the state column's exactly."""
    if column.kind in ("id", "int"):
        return pg_type in _INTEGERS
    if column.kind == "text":
        return _TEXT.fullmatch(pg_type) is not None
    numeric, state = _NUMERIC.fullmatch(pg_type), _DECIMAL.match(column.sql_type)
    if numeric is None or state is None:
        return False
    precision, scale = int(numeric[1]), int(numeric[2])
    return scale <= int(state[2]) and precision - scale <= int(state[1]) - int(state[2])


def _why(column: Column) -> str:
    if column.kind in ("id", "int"):
        return "the marts read it as an integer: smallint, integer or bigint"
    if column.kind == "text":
        return "the marts read it as text: text or varchar"
    return f"the marts keep it as {column.sql_type.split()[0]}: a numeric of no more scale or integer digits"


def _named(table: CatalogTable, name: str) -> CatalogColumn | None:
    return next((column for column in table.columns if column.name == name), None)
