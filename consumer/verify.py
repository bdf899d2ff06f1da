"""`cdc verify` for the replica: every replica table against its source table, all columns, exactly.

The columns compared are the source's now (its catalog, core.source.catalog): a replica table that did not
follow a schema change has other columns, and is reported so; a paused one says why (consumer.schema).

Each concern is a function returning list[TableReport] (core.verify does the
comparing and rendering); a later marts check adds its own function and the
command concatenates the reports.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2
import pymysql
from pymysql.connections import Connection

from consumer.errors import ConsumerError
from consumer.replica_schema import POSITION_COLUMN, SCHEMAS, TableSpec, UnsupportedType, replica_table
from core.errors import MySqlUnavailable
from core.mysql import close_quietly, connect
from core.settings import MySqlSettings, SourceSettings
from core.source.catalog import CatalogError, published_tables, read_definition
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
        raise _unreadable_replica(replica, exc.__cause__ or exc) from exc


def _unreadable_replica(replica: MySqlSettings, cause: BaseException) -> ConsumerError:
    return ConsumerError(f"cannot read the replica at {replica.url.host}:{replica.url.port}/"
                         f"{replica.url.database}: {cause}")


def _unreadable_source(cause: BaseException) -> ConsumerError:
    return ConsumerError(f"cannot read the source (PG_DSN): {cause}".strip())


def _replica_columns(cur: Any, table: str) -> list[str]:
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE()"
                " AND table_name = %s AND column_name <> %s ORDER BY ordinal_position", (table, POSITION_COLUMN))
    return [name for (name,) in cur.fetchall()]


def _paused(cur: Any, table: str) -> str | None:
    try:
        cur.execute(f"SELECT paused FROM `{SCHEMAS}` WHERE table_name = %s", (table,))
    except pymysql.err.ProgrammingError:  # the consumer has not created it yet
        return None
    row = cur.fetchone()
    return row[0] if row else None


def _table_report(pg_cur: Any, my_cur: Any, table: str) -> TableReport:
    try:
        definition = read_definition(pg_cur, table)
    except CatalogError as exc:
        raise ConsumerError(f"cannot read the source's definition of {table}: {exc} (are the source migrations "
                            "applied? `cdc schema apply`)") from exc
    notes = [f"paused: {reason}"] if (reason := _paused(my_cur, table)) else []
    try:
        spec = replica_table(definition)
    except UnsupportedType as exc:  # the consumer paused it: nothing to compare
        return TableReport(table, 0, 0, 0, 0, 1, (*notes, f"not replicable: {exc}"))
    source_rows = _source_rows(pg_cur, spec)
    columns = _replica_columns(my_cur, table)
    if columns and sorted(columns) != sorted(spec.column_names):
        notes.append(f"columns differ: source ({', '.join(spec.column_names)}), replica ({', '.join(columns)})")
        return TableReport(table, len(source_rows), 0, 0, 0, len(source_rows), tuple(notes))
    report = compare(spec.name, spec.column_names, len(spec.key), source_rows, _replica_rows(my_cur, spec))
    return TableReport(report.name, report.source_rows, report.replica_rows, report.missing, report.extra,
                       report.different, (*notes, *report.examples))


def replica_reports(source: SourceSettings, replica: MySqlSettings,
                    tables: Sequence[str] | None = None) -> list[TableReport]:
    """One report per replicated table (by default, each table of the source's publication). The source is read in
    one snapshot (REPEATABLE READ)."""
    my = _connect_replica(replica)
    try:
        pg = psycopg2.connect(source.dsn, options="-c timezone=UTC")
    except psycopg2.Error as exc:
        close_quietly(my)
        raise _unreadable_source(exc) from exc
    try:
        pg.set_session(isolation_level="REPEATABLE READ", readonly=True)
        reports = []
        with pg.cursor() as pg_cur, my.cursor() as my_cur:
            for table in published_tables(pg_cur) if tables is None else tables:
                reports.append(_table_report(pg_cur, my_cur, table))
        pg.rollback()
        return reports
    # A failed read is the comparison's failure, not a difference: `cdc verify --wait` reads again. MariaDB
    # refuses a table created after the read's snapshot began (1412: the consumer created it meanwhile), and
    # a restarted server drops the connection.
    except pymysql.MySQLError as exc:
        raise _unreadable_replica(replica, exc) from exc
    except psycopg2.Error as exc:
        raise _unreadable_source(exc) from exc
    finally:
        pg.close()
        close_quietly(my)

