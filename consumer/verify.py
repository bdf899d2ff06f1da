"""`cdc verify` for the replica: every replica table against its source table, all columns, exactly.

Each concern is a function returning list[TableReport] (core.verify does the
comparing and rendering); a later marts check adds its own function and the
command concatenates the reports.
"""
from __future__ import annotations

from typing import Any

import psycopg2
import pymysql
from pymysql.connections import Connection

from consumer.errors import ConsumerError
from consumer.replica_schema import REPLICA_TABLES, TableSpec
from core.errors import MySqlUnavailable
from core.mysql import close_quietly, connect
from core.settings import MySqlSettings, SourceSettings
from core.verify import TableReport, compare


def _select(spec: TableSpec) -> str:
    columns = ", ".join(spec.column_names)
    return f"SELECT {columns} FROM {spec.name} ORDER BY {', '.join(spec.key)}"


def _source_rows(cur: Any, spec: TableSpec) -> list[tuple[Any, ...]]:
    cur.execute(_select(spec))
    return cur.fetchall()


def _replica_rows(cur: Any, spec: TableSpec) -> list[tuple[Any, ...]]:
    try:
        cur.execute(_select(spec))
    except pymysql.err.ProgrammingError:  # the consumer has not created it yet
        return []
    return list(cur.fetchall())


def _connect_replica(replica: MySqlSettings) -> Connection:
    try:
        return connect(replica)
    except MySqlUnavailable as exc:
        raise ConsumerError(f"cannot read the replica at {replica.url.host}:{replica.url.port}/"
                            f"{replica.url.database}: {exc.__cause__ or exc}") from exc


def replica_reports(source: SourceSettings, replica: MySqlSettings) -> list[TableReport]:
    """One report per replicated table. The source is read in one snapshot (REPEATABLE READ)."""
    my = _connect_replica(replica)
    try:
        pg = psycopg2.connect(source.dsn, options="-c timezone=UTC")
    except psycopg2.Error as exc:
        close_quietly(my)
        raise ConsumerError(f"cannot read the source (PG_DSN): {exc}".strip()) from exc
    try:
        pg.set_session(isolation_level="REPEATABLE READ", readonly=True)
        reports = []
        with pg.cursor() as pg_cur, my.cursor() as my_cur:
            for spec in REPLICA_TABLES.values():
                reports.append(compare(spec.name, spec.column_names, len(spec.key),
                                       _source_rows(pg_cur, spec), _replica_rows(my_cur, spec)))
        pg.rollback()
        return reports
    finally:
        pg.close()
        close_quietly(my)

