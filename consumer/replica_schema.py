"""The replica's tables: the source tables' shapes (core.source.catalog) in MySQL types, created by the consumer.

Each replica table mirrors its source table's catalog definition: same table
and column names, nullability and primary key, and for each source type the
MySQL type that holds every source value unchanged (replica_column). The
definitions come from the source itself, in the stream (consumer.schema), so
nothing here is specific to the shop's tables; REPLICA_TABLES, the shop tables
as the migrations create them, serves the benchmarks and tests only.

Only primary keys: no foreign keys (the topics are consumed independently,
so a line may arrive before its order) and no unique indexes (users.email is
unique in the source at every commit, but two users swapping emails arrive on
different partitions, and a transient duplicate must not fail or corrupt an
upsert). Column defaults are not copied: every replicated row carries all its
values, and the rows that exist when a column is added get the source's
value for them in the ALTER itself (consumer.schema).

Besides the source's columns, every replica table has a hidden
POSITION_COLUMN: the source lsn of the row's last applied change, and the
database has TRUNCATIONS, each table's truncate watermark (core.truncation).
`cdc verify` compares the source's columns only.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import pymysql

from consumer.errors import ConsumerError
from consumer.types import Column, Kind, row_reader, typed_row
from core.envelope import Reader, typed_reader
from core.errors import MySqlUnavailable
from core.marts_tables import is_marts_table
from core.mysql import fetch_all
from core.mysql_dialect import inserted
from core.settings import MySqlSettings
from core.source.catalog import CatalogColumn, CatalogTable, catalog_of
from core.source.tables import TABLES
from core.truncation import watermarks_ddl
from core.watermark import WATERMARK_DDL, WATERMARK_TABLE


class UnsupportedType(ConsumerError):
    """A source column whose type has no exact replica type here."""


# The replica's type of each source type (as format_type() spells it). All character types are
# LONGTEXT (utf8mb4: 4-byte characters, and up to PostgreSQL's 1 GB): the source enforces lengths, and
# varchar(n) -> varchar(m) or -> text needs no change of the replica.
KIND_OF_SOURCE_TYPE: Mapping[str, Kind] = MappingProxyType({
    "bigint": Kind.BIGINT,
    "integer": Kind.INT,
    "smallint": Kind.SMALLINT,
    "boolean": Kind.BOOLEAN,
    "text": Kind.TEXT,
    "character varying": Kind.TEXT,
    "character": Kind.TEXT,
    "timestamp with time zone": Kind.TIMESTAMP,  # DATETIME(6) in UTC
    "date": Kind.DATE,
})
_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")
_SIZED_TEXT = re.compile(r"^(character varying|character)\(\d+\)$")
MYSQL_MAX_PRECISION, MYSQL_MAX_SCALE = 65, 30


def replica_column(source: CatalogColumn) -> Column:
    """The replica's column of a source column; UnsupportedType when no MySQL type holds its values exactly."""
    if source.generated:
        raise UnsupportedType(f"column {source.name} is a generated column, whose values the WAL does not carry")
    numeric = _NUMERIC.match(source.pg_type)
    if numeric:
        precision, scale = int(numeric[1]), int(numeric[2])
        if precision > MYSQL_MAX_PRECISION or scale > MYSQL_MAX_SCALE:
            raise UnsupportedType(f"column {source.name}: {source.pg_type} exceeds MySQL's DECIMAL(65,30)")
        return Column(source.name, Kind.DECIMAL, source.nullable, f"DECIMAL({precision},{scale})")
    sized_text = _SIZED_TEXT.match(source.pg_type)
    kind = KIND_OF_SOURCE_TYPE.get(sized_text[1] if sized_text else source.pg_type)
    if kind is None:
        raise UnsupportedType(f"column {source.name}: the source type {source.pg_type} has no exact replica type "
                              f"(supported: {', '.join(KIND_OF_SOURCE_TYPE)}, numeric(p,s))")
    return Column(source.name, kind, source.nullable)


@dataclass(frozen=True)
class Earlier:
    """How a row of the table's previous shape (one source schema change back) maps onto the current columns, by
    attribute number (consumer.schema): for rows of the DDL's own transaction from before the DDL."""

    sources: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))  # None: added since
    filled: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # added column -> its value


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # Rows of the table's previous shape still to be written map onto it so (consumer.schema).
    earlier: Earlier = field(default_factory=Earlier, compare=False)

    column_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    key_positions: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # One call reads a row image into the values in column order (consumer.types.row_reader).
    read_row: Callable[[dict[str, Any]], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    key_json: str = field(init=False, repr=False, compare=False)  # '{"order_id":%s}' % key: Debezium's int key
    # The typed first reading of its events (core.envelope.typed_reader), and its images' conversion
    # (consumer.types.typed_row).
    reader: Reader = field(init=False, repr=False, compare=False)
    convert_image: Callable[[Any], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(column.name for column in self.columns)
        object.__setattr__(self, "column_names", names)
        object.__setattr__(self, "read_row", row_reader(self.columns))
        image, convert_image = typed_row(self.columns)
        object.__setattr__(self, "reader", typed_reader(image))
        object.__setattr__(self, "convert_image", convert_image)
        object.__setattr__(self, "key_json", "{" + ",".join(f'"{name}":%s' for name in self.key) + "}")
        object.__setattr__(self, "key_positions", tuple(names.index(name) for name in self.key))

    def ddl(self, comment: str = "") -> str:
        lines = [
            f"  {column_sql(column)}" for column in self.columns
        ]
        lines.append(f"  `{POSITION_COLUMN}` {POSITION_TYPE}")
        lines.append(f"  PRIMARY KEY ({', '.join(f'`{name}`' for name in self.key)})")
        body = ",\n".join(lines)
        return (
            f"CREATE TABLE IF NOT EXISTS `{self.name}` (\n{body}\n) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" + (f" COMMENT = '{comment}'" if comment else "")
        )


def quoted(name: str) -> str:
    """A MySQL identifier, whatever the source named it."""
    return "`" + name.replace("`", "``") + "`"


def column_sql(column: Column) -> str:
    """The column as CREATE and ALTER TABLE state it."""
    return f"{quoted(column.name)} {column.sql_type} {'NULL' if column.nullable else 'NOT NULL'}"


def replica_table(source: CatalogTable) -> TableSpec:
    """The replica's table of a source table: same names, the replica's type for each column."""
    return TableSpec(source.name, tuple(replica_column(column) for column in source.columns), source.key)


# The shop's tables as the migrations create them: for benchmarks and tests (the consumer reads the
# source's own definitions, consumer.schema).
REPLICA_TABLES: Mapping[str, TableSpec] = MappingProxyType(
    {name: replica_table(catalog_of(source)) for name, source in TABLES.items()})


POSITION_COLUMN = "_cdc_lsn"
# NULL: a row stored before positions were kept; a truncate counts it as older.
POSITION_TYPE = "BIGINT NULL"
TRUNCATIONS = "cdc_truncations"
TRUNCATIONS_DDL = watermarks_ddl(TRUNCATIONS, "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
# Per replica table, the source definition it mirrors as of the watermark (written with the data).
SCHEMAS = "cdc_replica_schemas"
SCHEMAS_DDL = f"""CREATE TABLE IF NOT EXISTS `{SCHEMAS}` (
  table_name VARCHAR(64) NOT NULL PRIMARY KEY,
  version BIGINT NOT NULL,
  definition LONGTEXT NOT NULL,
  paused TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""


# Per partition, the offset of the last message outside any transaction (a snapshot or backfill read) applied,
# written with the data: a re-read after a crash skips such messages by it, as the watermark skips transactions
# (re-applying a read after a newer change of its row would bring the old row back).
LOOSE_OFFSETS = "cdc_replica_loose_offsets"
LOOSE_OFFSETS_DDL = f"""CREATE TABLE IF NOT EXISTS `{LOOSE_OFFSETS}` (
  topic VARCHAR(249) NOT NULL,
  partition_id INT NOT NULL,
  last_offset BIGINT NOT NULL,
  PRIMARY KEY (topic, partition_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""

# The id of each source topic the replica's offsets refer to, and the partitions to read again from their log
# start (consumer.generations).
TOPICS = "replica_topics"
REREADS = "replica_rereads"
# The replica's own bookkeeping tables. With the marts' (core.marts_tables), which share the database, they are the
# pipeline's own tables: a source table of one of their names is paused rather than made (consumer.schema), as
# making it would drop the table of that name, and a rebuild never drops one (data_tables).
BOOKKEEPING_TABLES = (TRUNCATIONS, SCHEMAS, LOOSE_OFFSETS, TOPICS, REREADS, WATERMARK_TABLE)


def is_own_table(name: str) -> bool:
    """Whether `name` is one of the pipeline's own tables, in any case (MySQL may fold names)."""
    return name.lower() in BOOKKEEPING_TABLES or is_marts_table(name)


def ensure_database(conn: Any, database: str) -> None:
    """Create the replica database if missing (the connection must not be bound to it)."""
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )


def ensure_tables(conn: Any, specs: Iterable[TableSpec]) -> None:
    """Create the bookkeeping tables and every replica table that does not exist yet (idempotent)."""
    with conn.cursor() as cur:
        cur.execute(TRUNCATIONS_DDL)
        cur.execute(WATERMARK_DDL)
        cur.execute(SCHEMAS_DDL)
        cur.execute(LOOSE_OFFSETS_DDL)
        names = []
        for spec in specs:
            cur.execute(spec.ddl())
            names.append(spec.name)
        for name in _tables_without_position(cur, names):
            cur.execute(f"ALTER TABLE `{name}` ADD COLUMN `{POSITION_COLUMN}` {POSITION_TYPE}")
    conn.commit()


def _tables_without_position(cur: Any, names: list[str]) -> list[str]:
    """Replica tables created before the position column existed."""
    cur.execute("SELECT table_name FROM information_schema.columns WHERE table_schema = DATABASE()"
                " AND column_name = %s", (POSITION_COLUMN,))
    having = {name for (name,) in cur.fetchall()}
    return [name for name in names if name not in having]


def data_tables(cur: Any) -> list[str]:
    """What a rebuild drops: the replica's tables (those SCHEMAS records, and the shop's), their truncate
    watermarks, and SCHEMAS (a snapshot brings all of them anew)."""
    cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
                (SCHEMAS,))
    replicated: list[str] = []
    if cur.fetchone() is not None:
        cur.execute(f"SELECT table_name FROM `{SCHEMAS}` ORDER BY table_name")
        replicated = [name for (name,) in cur.fetchall() if not is_own_table(name)]  # paused for its name
    # The default tables too: a replica from before SCHEMAS, or stopped between creating them and recording them.
    return [*sorted(set(replicated) | set(TABLES)), TRUNCATIONS, SCHEMAS, LOOSE_OFFSETS]


@dataclass(frozen=True)
class StoredSchema:
    """A replica table's row of SCHEMAS: which source definition it mirrors, and whether it is paused."""

    table: str
    version: int  # the id of the source's cdc_schema_changes row it mirrors
    definition: str  # that row's definition (core.source.catalog)
    paused: str | None  # why its changes are not applied (None: replicating)


def read_schemas(cur: Any) -> dict[str, StoredSchema]:
    cur.execute(f"SELECT table_name, version, definition, paused FROM `{SCHEMAS}`")
    return {row[0]: StoredSchema(*row) for row in cur.fetchall()}


def write_schema(cur: Any, stored: StoredSchema) -> None:
    """In the transaction of the data it describes (consumer.sink)."""
    updates = ", ".join(f"{column} = {inserted(column)}" for column in ("version", "definition", "paused"))
    cur.execute(f"INSERT INTO `{SCHEMAS}` (table_name, version, definition, paused) VALUES (%s, %s, %s, %s)"
                f" ON DUPLICATE KEY UPDATE {updates}", (stored.table, stored.version, stored.definition, stored.paused))


def read_loose_offsets(cur: Any) -> dict[tuple[str, int], int]:
    cur.execute(f"SELECT topic, partition_id, last_offset FROM `{LOOSE_OFFSETS}`")
    return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}


def write_loose_offsets(cur: Any, offsets: Mapping[tuple[str, int], int]) -> None:
    """In the transaction of the data it describes (consumer.sink)."""
    if offsets:
        cur.execute(f"INSERT INTO `{LOOSE_OFFSETS}` (topic, partition_id, last_offset) VALUES "
                    + ", ".join(["(%s, %s, %s)"] * len(offsets))
                    + f" ON DUPLICATE KEY UPDATE last_offset = GREATEST(last_offset, {inserted('last_offset')})",
                    [value for (topic, partition), offset in sorted(offsets.items())
                     for value in (topic, partition, offset)])


def paused_tables(mysql: MySqlSettings) -> dict[str, str]:
    """Replica tables whose changes are not applied, and why (for `cdc consume --stats`)."""
    try:
        rows = fetch_all(mysql, f"SELECT table_name, paused FROM `{SCHEMAS}` WHERE paused IS NOT NULL"
                                " ORDER BY table_name")
    except (MySqlUnavailable, pymysql.MySQLError):
        return {}  # no replica yet: nothing paused
    return {name: reason for name, reason in rows}
