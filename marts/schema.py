"""The marts' MySQL database: the session a marts connection runs (connect), the DDL of the marts
(marts.definitions), their state tables, the applied-offsets and truncate-watermark tables (MySQL 8 and
MariaDB 10.11), and ensure_schema, which creates and upgrades them.

A marts session runs SERIALIZABLE transactions (why: marts.apply.store) with UTC times, and bounds
lock waits so that a deadlock-prone wait is retried rather than held.

Each state row carries POSITION_COLUMN, the source lsn of its last applied
change, outside the state table's compared columns; TRUNCATIONS holds each
source table's truncate watermark (core.truncation).
"""
from __future__ import annotations

from typing import Any

from pymysql.connections import Connection

from core import mysql as core_mysql
from core import mysql_dialect
from core.generations import ids_ddl
from core.mysql import TABLE_OPTIONS
from core.settings import MYSQL_IO_TIMEOUT_S, MySqlSettings
from core.truncation import watermarks_ddl
from core.watermark import WATERMARK_DDL
from marts.definitions import MARTS, MartSpec
from marts.state_tables import STATE_TABLES, StateTable

SESSION = (
    "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    mysql_dialect.SESSION,
    "SET SESSION innodb_lock_wait_timeout = 10",
)

OFFSETS = "mart_offsets"
TRUNCATIONS = "mart_truncations"
POSITION_COLUMN = "source_lsn"
POSITION_TYPE = "BIGINT NULL"  # NULL: stored before positions were kept, or by an event without one
TOPICS = "mart_topics"  # the id of each source topic the offsets refer to (see marts.generations)
PAUSE = "mart_pause"  # the source schema change the marts stopped at, if any (see marts.pause)


def connect(mysql: MySqlSettings, database: bool = True, io_timeout: float = MYSQL_IO_TIMEOUT_S) -> Connection:
    """A marts connection; MySqlUnavailable if MySQL cannot be reached."""
    return core_mysql.connect(mysql, session=SESSION, database=database, io_timeout=io_timeout)


def state_ddl(table: StateTable[Any]) -> str:
    columns = [f"{column.name} {column.sql_type}" for column in table.columns]
    columns.append(f"{POSITION_COLUMN} {POSITION_TYPE}")
    columns.append(f"PRIMARY KEY ({table.key})")
    columns.extend(f"KEY {table.name}_{name}_idx ({name})" for name in table.indexes)
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  " + ",\n  ".join(columns) + f"\n) {TABLE_OPTIONS}"


def mart_ddl(spec: MartSpec) -> str:
    columns = [f"{name} {spec.sql_types[name]}" for name in spec.columns]
    columns.append("updated_at DATETIME(6) NOT NULL")
    columns.append(f"PRIMARY KEY ({', '.join(spec.keys)})")
    return f"CREATE TABLE IF NOT EXISTS {spec.name} (\n  " + ",\n  ".join(columns) + f"\n) {TABLE_OPTIONS}"


OFFSETS_DDL = f"""CREATE TABLE IF NOT EXISTS {OFFSETS} (
  topic VARCHAR(249) NOT NULL,
  partition_id INT NOT NULL,
  last_offset BIGINT NOT NULL,
  source_ts_ms BIGINT NULL,
  applied_at DATETIME(6) NOT NULL,
  PRIMARY KEY (topic, partition_id)
) {TABLE_OPTIONS}"""


TOPICS_DDL = ids_ddl(TOPICS)


TRUNCATIONS_DDL = watermarks_ddl(TRUNCATIONS, TABLE_OPTIONS)


PAUSE_DDL = f"""CREATE TABLE IF NOT EXISTS {PAUSE} (
  id TINYINT NOT NULL,
  source_table VARCHAR(64) NOT NULL,
  source_column VARCHAR(64) NOT NULL,
  what TEXT NOT NULL,
  schema_version BIGINT NOT NULL,
  source_txid BIGINT NOT NULL,
  source_lsn BIGINT NOT NULL,
  statement LONGTEXT NULL,
  paused_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id)
) {TABLE_OPTIONS}"""


def all_ddl() -> list[str]:
    return ([state_ddl(table) for table in STATE_TABLES.values()] + [mart_ddl(spec) for spec in MARTS]
            + [OFFSETS_DDL, TOPICS_DDL, TRUNCATIONS_DDL, PAUSE_DDL, WATERMARK_DDL])  # the watermark table is shared


def all_tables() -> list[str]:
    return ([table.name for table in STATE_TABLES.values()] + [spec.name for spec in MARTS]
            + [OFFSETS, TOPICS, TRUNCATIONS, PAUSE])


def position_ddl(existing: dict[tuple[str, str], str]) -> list[str]:
    """ALTERs adding the position column to state tables created before it existed."""
    return [f"ALTER TABLE {table.name} ADD COLUMN {POSITION_COLUMN} {POSITION_TYPE}"
            for table in STATE_TABLES.values() if (table.name, POSITION_COLUMN) not in existing]


def widen_ddl(existing: dict[tuple[str, str], str]) -> list[str]:
    """ALTERs for name columns created as TEXT by earlier versions (`existing`: (table, column) -> DATA_TYPE)."""
    wanted = {(table.name, column.name): column.sql_type for table in STATE_TABLES.values()
              for column in table.columns if column.kind == "text"}
    wanted |= {(spec.name, name): spec.sql_types[name] for spec in MARTS for name in spec.labels}
    return [f"ALTER TABLE {table} MODIFY {column} {sql_type}" for (table, column), sql_type in sorted(wanted.items())
            if existing.get((table, column), "").lower() == "text"]


def ensure_schema(mysql: MySqlSettings) -> None:
    """Create the database (if missing), the marts, state and offsets tables (if missing), and bring
    tables of earlier versions up to date."""
    conn = connect(mysql, database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{mysql.url.database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{mysql.url.database}`")
            for ddl in all_ddl():
                cur.execute(ddl)
            for ddl in _upgrade_ddl(cur):
                cur.execute(ddl)
        conn.commit()
    finally:
        conn.close()


def _upgrade_ddl(cur: Any) -> list[str]:
    cur.execute("SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = DATABASE()")
    existing = {(table, column): kind for table, column, kind in cur.fetchall()}
    return widen_ddl(existing) + position_ddl(existing)
