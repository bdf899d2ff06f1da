"""The replica's tables: our own reviewed DDL, created by the consumer at start.

Why own DDL rather than deriving it from the events: the JSON converter runs
without schemas, so an event does not say that "12.50" is numeric(12,2) or
that 19812 is a date; and a reviewed mapping (KIND_OF_SOURCE_TYPE) gives
exact types that hold every source value unchanged.

Same table and column names as the source. Only primary keys: no foreign
keys (the five topics are consumed independently, so a line may arrive
before its order) and no unique indexes (users.email is unique in the source
at every commit, but two users swapping emails arrive on different
partitions, and a transient duplicate must not fail or corrupt an upsert).
The columns are the table catalog's (core.source.tables): a change of the
source schema is stated there (a new column in an event is dead-lettered
until then, never dropped silently), a new source type needs its replica
type here.

Besides the source's columns, every replica table has a hidden
POSITION_COLUMN: the source lsn of the row's last applied change, and the
database has TRUNCATIONS, each table's truncate watermark (core.truncation).
`cdc verify` compares the source's columns only.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from consumer.types import Column, Kind
from core.source.tables import TABLES, SourceTable
from core.truncation import watermarks_ddl
from core.watermark import WATERMARK_DDL

# The replica's type of each source type; a source type missing here fails at import.
KIND_OF_SOURCE_TYPE: Mapping[str, Kind] = MappingProxyType({
    "bigserial": Kind.BIGINT,
    "bigint": Kind.BIGINT,
    "integer": Kind.INT,
    "numeric(12,2)": Kind.DECIMAL,
    "text": Kind.TEXT,  # LONGTEXT utf8mb4: 4-byte characters, and up to PostgreSQL's 1 GB
    "timestamptz": Kind.TIMESTAMP,  # DATETIME(6) in UTC
    "date": Kind.DATE,
})


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


def replica_table(source: SourceTable) -> TableSpec:
    """The replica's table of a source table: same names, the replica's type for each column."""
    columns = tuple(Column(column.name, KIND_OF_SOURCE_TYPE[column.pg_type], column.nullable)
                    for column in source.columns)
    return TableSpec(source.name, columns, source.key)


REPLICA_TABLES: dict[str, TableSpec] = {name: replica_table(source) for name, source in TABLES.items()}


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
        cur.execute(WATERMARK_DDL)
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
