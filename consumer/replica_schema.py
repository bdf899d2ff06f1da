"""The replica's tables: our own reviewed DDL, created by the consumer at start.

Why own DDL rather than deriving it from the events: the JSON converter runs
without schemas, so an event does not say that "12.50" is numeric(12,2) or
that 19812 is a date; and a reviewed mapping gives exact types that hold
every source value unchanged:

    bigint / bigserial -> BIGINT          integer        -> INT
    numeric(12,2)      -> DECIMAL(12,2)   text           -> LONGTEXT (utf8mb4, 4-byte chars)
    timestamptz        -> DATETIME(6), UTC date           -> DATE

Same table and column names as the source. Only primary keys: no foreign
keys (the five topics are consumed independently, so a line may arrive
before its order) and no unique indexes (users.email is unique in the source
at every commit, but two users swapping emails arrive on different
partitions, and a transient duplicate must not fail or corrupt an upsert).
A change of the source schema needs a change here (and a new column in an
event is dead-lettered until then, never dropped silently).

Besides the source's columns, every replica table has a hidden
POSITION_COLUMN: the source lsn of the row's last applied change, and the
database has TRUNCATIONS, each table's truncate watermark (core.truncation).
`cdc verify` compares the source's columns only.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.truncation import watermarks_ddl
from consumer.types import Column, Kind

B, I, D, T, TS, DT = Kind.BIGINT, Kind.INT, Kind.DECIMAL, Kind.TEXT, Kind.TIMESTAMP, Kind.DATE


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    column_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    key_positions: tuple[int, ...] = field(init=False, repr=False, compare=False)
    converters: tuple[tuple[str, Callable[[Any], Any]], ...] = field(init=False, repr=False, compare=False)
    key_json: str = field(init=False, repr=False, compare=False)  # '{"order_id":%s}' % key: Debezium's int key

    def __post_init__(self) -> None:
        names = tuple(column.name for column in self.columns)
        object.__setattr__(self, "column_names", names)
        object.__setattr__(self, "converters", tuple((column.name, column.fast_convert) for column in self.columns))
        object.__setattr__(self, "key_json", "{" + ",".join(f'"{name}":%s' for name in self.key) + "}")
        object.__setattr__(self, "key_positions", tuple(names.index(name) for name in self.key))

    def ddl(self) -> str:
        lines = [
            f"  `{column.name}` {column.kind.value} {'NULL' if column.nullable else 'NOT NULL'}"
            for column in self.columns
        ]
        lines.append(f"  `{POSITION_COLUMN}` {POSITION_TYPE}")
        lines.append(f"  PRIMARY KEY ({', '.join(f'`{name}`' for name in self.key)})")
        body = ",\n".join(lines)
        return (
            f"CREATE TABLE IF NOT EXISTS `{self.name}` (\n{body}\n) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        )


def _table(name: str, key: str, *columns: tuple[str, Kind] | tuple[str, Kind, bool]) -> TableSpec:
    return TableSpec(name, tuple(Column(*column) for column in columns), (key,))


REPLICA_TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        _table("users", "user_id",
               ("user_id", B), ("first_name", T), ("last_name", T), ("email", T), ("phone", T, True),
               ("registration_date", TS), ("loyalty_status", T)),
        _table("product_categories", "category_id",
               ("category_id", B), ("name", T), ("parent_category_id", B, True)),
        _table("products", "product_id",
               ("product_id", B), ("name", T), ("description", T, True), ("category_id", B),
               ("price", D), ("stock_quantity", I), ("creation_date", TS)),
        _table("orders", "order_id",
               ("order_id", B), ("user_id", B), ("order_date", TS), ("total_amount", D), ("status", T),
               ("delivery_date", DT, True)),
        _table("order_details", "order_detail_id",
               ("order_detail_id", B), ("order_id", B), ("product_id", B), ("quantity", I),
               ("price_per_unit", D), ("total_price", D)),
    )
}


POSITION_COLUMN = "_cdc_lsn"
# NULL: a row stored before positions were kept; a truncate counts it as older.
POSITION_TYPE = "BIGINT NULL"
TRUNCATIONS = "cdc_truncations"
TRUNCATIONS_DDL = watermarks_ddl(TRUNCATIONS, "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")


def ensure_database(conn: Any, database: str) -> None:
    """Create the replica database if missing (the connection must not be bound to it)."""
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )


def ensure_tables(conn: Any) -> None:
    """Create every replica table that does not exist yet, and the position column where missing (idempotent)."""
    with conn.cursor() as cur:
        for spec in REPLICA_TABLES.values():
            cur.execute(spec.ddl())
        cur.execute(TRUNCATIONS_DDL)
        for name in _tables_without_position(cur):
            cur.execute(f"ALTER TABLE `{name}` ADD COLUMN `{POSITION_COLUMN}` {POSITION_TYPE}")
    conn.commit()


def _tables_without_position(cur: Any) -> list[str]:
    """Replica tables created before the position column existed."""
    cur.execute("SELECT table_name FROM information_schema.columns WHERE table_schema = DATABASE()"
                " AND column_name = %s", (POSITION_COLUMN,))
    having = {name for (name,) in cur.fetchall()}
    return [name for name in REPLICA_TABLES if name not in having]


def data_tables() -> list[str]:
    """What a rebuild drops: the replica's tables and their truncate watermarks (a snapshot brings both anew)."""
    return [spec.name for spec in REPLICA_TABLES.values()] + [TRUNCATIONS]
