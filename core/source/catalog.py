"""A source table's shape as PostgreSQL's catalog states it: the definition `cdc_table_schema()` writes.

Migration 0003 defines `cdc_table_schema(regclass)` and an event trigger that
stores its result in `cdc_schema_changes` in the same transaction as every
ALTER/CREATE TABLE. Debezium streams that table with the data, so each
definition arrives exactly between the source transactions before and after
the DDL (the consumer evolves the replica from it: consumer.schema), and
`cdc verify` reads the same function to know the source's columns now.

Columns keep PostgreSQL's attribute numbers: a renamed column keeps its
number, a dropped one's number is never reused, so two definitions tell a
rename from a drop and an add.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import CdcError
from core.source.tables import SOURCE_TABLES, SourceTable
from core.topic_names import HEARTBEAT_TABLE, SCHEMA_CHANGES_TABLE, SIGNALS_TABLE

# The command of a cdc_schema_changes row written when a table was added to the publication (migration 0005):
# from that point of the stream the table is replicated, its existing rows arriving as a backfill.
PUBLICATION_COMMAND = "ALTER PUBLICATION"
ALTER_COMMAND = "ALTER TABLE"  # a row of cdc_capture_schema_change (migration 0003)
PUBLICATION = "cdc_publication"
# Published tables that are the pipeline's own, never replicated.
PIPELINE_TABLES = (HEARTBEAT_TABLE, SCHEMA_CHANGES_TABLE, SIGNALS_TABLE)


class CatalogError(CdcError):
    """A table definition that does not have the shape cdc_table_schema() gives."""


@dataclass(frozen=True)
class CatalogColumn:
    attnum: int
    name: str
    pg_type: str  # format_type(): 'bigint', 'numeric(12,2)', 'timestamp with time zone', ...
    nullable: bool
    default: str | None = None  # the default expression, as pg_get_expr() prints it
    # PostgreSQL's value for rows that existed before the column was added with a non-volatile
    # default (pg_attribute.attmissingval), as to_json() wrote it; None when there is none.
    has_missing: bool = False
    missing: Any = None
    identity: bool = False  # GENERATED ... AS IDENTITY
    generated: bool = False  # GENERATED ALWAYS AS (...) STORED: pgoutput does not send its values


@dataclass(frozen=True)
class CatalogTable:
    name: str
    columns: tuple[CatalogColumn, ...]
    key: tuple[str, ...]  # primary key columns, in key order
    oid: int | None = None  # the table's: another one under the same name (dropped, created again) has another

    def column(self, attnum: int) -> CatalogColumn | None:
        return next((column for column in self.columns if column.attnum == attnum), None)

    def to_json(self) -> str:
        """The definition as cdc_table_schema() writes it (stored by the consumer, read by parse_definition)."""
        text = json.dumps({
            "table": self.name,
            "columns": [{"attnum": c.attnum, "name": c.name, "type": c.pg_type, "nullable": c.nullable,
                         "default": c.default, "has_missing": c.has_missing, "missing": c.missing,
                         "identity": c.identity, "generated": c.generated}
                        for c in self.columns],
            "primary_key": list(self.key),
            "oid": self.oid,
        }, default=_marked_number)
        return _MARKED_NUMBER.sub(r"\1", text)


def _marked_number(value: Any) -> str:
    """A Decimal (a numeric column's missing value) as a marked string, unquoted afterwards: JSON numbers
    carry it exactly, and json.dumps would write it as a float."""
    if isinstance(value, Decimal):
        return f"\x00{value}\x00"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_MARKED_NUMBER = re.compile(r'"\\u0000([-+0-9.eE]+)\\u0000"')


def parse_definition(text: str) -> CatalogTable:
    """A definition's JSON text (numbers read exactly: 12.50 stays Decimal('12.50'))."""
    try:
        data = json.loads(text, parse_float=Decimal)
        columns = tuple(
            CatalogColumn(int(column["attnum"]), str(column["name"]), str(column["type"]), bool(column["nullable"]),
                          column.get("default"), bool(column.get("has_missing", False)), column.get("missing"),
                          bool(column.get("identity", False)), bool(column.get("generated", False)))
            for column in data["columns"]
        )
        oid = data.get("oid")
        table = CatalogTable(str(data["table"]), columns, tuple(str(name) for name in data["primary_key"]),
                             int(oid) if oid is not None else None)
    except (ValueError, TypeError, KeyError) as exc:
        raise CatalogError(f"not a table definition of cdc_table_schema(): {exc!r} in {text[:200]!r}") from None
    names = [column.name for column in table.columns]
    if not names or any(name not in names for name in table.key):
        raise CatalogError(f"table definition of {table.name} without columns or with an unknown key column")
    return table


def read_definition(cur: Any, table: str) -> CatalogTable:
    """The table's shape now, from the source catalog (cur: a psycopg2 cursor)."""
    cur.execute("SELECT cdc_table_schema(%s::regclass)::text", (f"public.{table}",))
    row = cur.fetchone()
    if row is None or row[0] is None:
        raise CatalogError(f"the source catalog has no table public.{table}")
    return parse_definition(row[0])


# The migrations' spellings of types that format_type() spells otherwise.
_CATALOG_SPELLING = {"bigserial": "bigint", "timestamptz": "timestamp with time zone"}


def catalog_of(table: SourceTable) -> CatalogTable:
    """A shop table (core.source.tables) as cdc_table_schema() describes it right after the migrations."""
    columns = tuple(
        CatalogColumn(attnum, column.name, _CATALOG_SPELLING.get(column.pg_type, column.pg_type), column.nullable)
        for attnum, column in enumerate(table.columns, start=1)
    )
    return CatalogTable(table.name, columns, table.key)


def published_tables(cur: Any) -> list[str]:
    """The source tables the pipeline replicates: the publication's tables of schema public, the shop's first (in
    their load order), then any added since, by name."""
    cur.execute("SELECT tablename FROM pg_publication_tables WHERE pubname = %s AND schemaname = 'public'",
                (PUBLICATION,))
    published = {row[0] for row in cur.fetchall()} - set(PIPELINE_TABLES)
    shop = [name for name in SOURCE_TABLES if name in published]
    return [*shop, *sorted(published - set(shop))]
