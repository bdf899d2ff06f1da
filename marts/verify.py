"""Exact verification of the marts: their definitions evaluated on PostgreSQL vs the MySQL tables.

updated_at (and the helper column line_count) are not part of the
definitions and are ignored.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
import pymysql

from marts.errors import MartsError
from core.settings import MySqlSettings, SourceSettings
from core.verify import TableReport, compare
from marts.store import connect


@dataclass(frozen=True)
class Definition:
    name: str
    columns: tuple[str, ...]
    key_width: int
    sql: str  # on the source


USER_ACTIVITY = Definition(
    "user_activity",
    ("user_id", "status", "first_name", "last_name", "order_count", "total_spent"),
    2,
    "SELECT u.user_id, o.status, u.first_name, u.last_name, COUNT(*) AS order_count,"
    " SUM(o.total_amount) AS total_spent"
    " FROM users u JOIN orders o ON o.user_id = u.user_id"
    " GROUP BY u.user_id, u.first_name, u.last_name, o.status",
)
SALES_BY_CATEGORY = Definition(
    "sales_by_category",
    ("category_id", "name", "total_quantity_sold", "total_sales"),
    1,
    "SELECT c.category_id, c.name, SUM(od.quantity) AS total_quantity_sold, SUM(od.total_price) AS total_sales"
    " FROM product_categories c"
    " JOIN products p ON p.category_id = c.category_id"
    " JOIN order_details od ON od.product_id = p.product_id"
    " JOIN orders o ON o.order_id = od.order_id"
    " WHERE o.status <> 'cancelled'"
    " GROUP BY c.category_id, c.name",
)
DEFINITIONS = (USER_ACTIVITY, SALES_BY_CATEGORY)


def source_rows(source: SourceSettings, definition: Definition) -> list[tuple[Any, ...]]:
    try:
        conn = psycopg2.connect(source.dsn, application_name="cdc-marts-verify")
    except psycopg2.Error as exc:
        raise MartsError(f"cannot connect to PostgreSQL (PG_DSN): {exc}".strip()) from exc
    try:
        with conn, conn.cursor() as cur:
            cur.execute(definition.sql)
            return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()


def mart_rows(mysql: MySqlSettings, definition: Definition) -> list[tuple[Any, ...]]:
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(definition.columns)} FROM {definition.name}")
            rows = [tuple(row) for row in cur.fetchall()]
        conn.commit()
        return rows
    except pymysql.MySQLError as exc:
        raise MartsError(f"cannot read the mart {definition.name} (has `cdc marts` run?): {exc}") from exc
    finally:
        conn.close()


def mart_reports(source: SourceSettings, mysql: MySqlSettings,
                 definitions: Sequence[Definition] = DEFINITIONS) -> list[TableReport]:
    return [
        compare(d.name, d.columns, d.key_width, source_rows(source, d), mart_rows(mysql, d))
        for d in definitions
    ]
