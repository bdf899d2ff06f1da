"""Exact verification of the marts: their definitions (marts.definitions) evaluated on PostgreSQL vs
the MySQL tables.

updated_at and the helper columns (line_count) are not part of the
definitions and are ignored.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg2
import pymysql

from core.settings import MySqlSettings, SourceSettings
from core.verify import TableReport, compare
from marts.definitions import MARTS, MartSpec
from marts.errors import MartsError
from marts.schema import connect


def source_rows(source: SourceSettings, spec: MartSpec) -> list[tuple[Any, ...]]:
    try:
        conn = psycopg2.connect(source.dsn, application_name="cdc-marts-verify")
    except psycopg2.Error as exc:
        raise MartsError(f"cannot connect to PostgreSQL (PG_DSN): {exc}".strip()) from exc
    try:
        with conn, conn.cursor() as cur:
            cur.execute(spec.source_sql)
            return [tuple(row) for row in cur.fetchall()]
    except psycopg2.Error as exc:  # e.g. a restarted server: `cdc verify --wait` reads again
        raise MartsError(f"cannot evaluate {spec.name}'s definition on PostgreSQL: {exc}".strip()) from exc
    finally:
        conn.close()


def mart_rows(mysql: MySqlSettings, spec: MartSpec) -> list[tuple[Any, ...]]:
    """The mart's rows in MySQL, in the columns of its definition."""
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(spec.defined_columns)} FROM {spec.name}")
            rows = [tuple(row) for row in cur.fetchall()]
        conn.commit()
        return rows
    except pymysql.MySQLError as exc:
        raise MartsError(f"cannot read the mart {spec.name} (has `cdc marts` run?): {exc}") from exc
    finally:
        conn.close()


def report(spec: MartSpec, source: Sequence[tuple[Any, ...]], mart: Sequence[tuple[Any, ...]]) -> TableReport:
    """The mart's rows (`mart`) compared with its definition's (`source`)."""
    return compare(spec.name, spec.defined_columns, len(spec.keys), source, mart)


def mart_reports(source: SourceSettings, mysql: MySqlSettings, specs: Sequence[MartSpec] = MARTS) -> list[TableReport]:
    return [report(spec, source_rows(source, spec), mart_rows(mysql, spec)) for spec in specs]
