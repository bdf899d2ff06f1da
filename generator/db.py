"""Connections and sequence bookkeeping shared by the seed and the live stream."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2
from psycopg2.extras import execute_values

from core.settings import SourceSettings
from generator.errors import GeneratorError
from generator.tables import Table


def connect(settings: SourceSettings, application_name: str) -> Any:
    try:
        return psycopg2.connect(settings.dsn, application_name=application_name)
    except psycopg2.Error as exc:
        raise GeneratorError(f"cannot connect to PostgreSQL (PG_DSN): {exc}".strip()) from exc


def has_rows(cur: Any, table: Table) -> bool:
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table.name})")
    return bool(cur.fetchone()[0])


def _sequence(table: Table) -> str:
    return f"pg_get_serial_sequence('{table.name}', '{table.key}')::regclass"


def next_free_id(cur: Any, table: Table) -> int:
    """The first id above both the highest row and the sequence's last value."""
    cur.execute(
        f"SELECT GREATEST(COALESCE(MAX({table.key}), 0),"
        f" COALESCE(pg_sequence_last_value({_sequence(table)}), 0)) + 1 FROM {table.name}"
    )
    return int(cur.fetchone()[0])


def advance_sequence(cur: Any, table: Table) -> None:
    """Move the table's sequence past its highest id, so default ids never collide."""
    last = next_free_id(cur, table) - 1
    cur.execute(f"SELECT setval({_sequence(table)}, %s, %s)", (max(last, 1), last > 0))


def next_ids(cur: Any, table: Table, count: int) -> list[int]:
    """Draw ids from the table's own sequence, as column defaults would."""
    cur.execute(f"SELECT nextval({_sequence(table)}) FROM generate_series(1, %s)", (count,))
    return [int(row[0]) for row in cur.fetchall()]


def insert_rows(cur: Any, table: Table, rows: Sequence[tuple[object, ...]]) -> None:
    """A plain INSERT of whole rows (in table.columns order): the live stream's writes."""
    execute_values(cur, f"INSERT INTO {table.name} ({table.column_list}) VALUES %s", rows)
