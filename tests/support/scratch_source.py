"""Scratch PostgreSQL databases for the generator's integration tests.

The machine's PostgreSQL (127.0.0.1:5432, trust auth, user postgres) is used
directly: each test module gets its own `gen_<uuid>` database, dropped at
teardown. GENERATOR_TEST_PG_ADMIN_DSN names another server (a DSN to its
`postgres` database, as a superuser). Without it, and with no PostgreSQL on
5432 or its unix socket, the test stack's PostgreSQL is used (the stack_env
fixture starts it). The fixture pg_admin_dsn gives a test module that DSN.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from core.settings import SourceSettings
from core.source.migrate import apply_migrations
from core.source.tables import SOURCE_TABLES

ADMIN_DSN_VARIABLE = "GENERATOR_TEST_PG_ADMIN_DSN"
DEFAULT_ADMIN_DSNS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://postgres@%2Fvar%2Frun%2Fpostgresql:5432/postgres",
)


def with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def _reachable(dsn: str) -> bool:
    try:
        psycopg2.connect(dsn, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


def find_admin_dsn(request: pytest.FixtureRequest) -> str:
    """The DSN of a server's `postgres` database to create scratch databases with (see the module doc)."""
    configured = os.environ.get(ADMIN_DSN_VARIABLE, "").strip()
    for dsn in (configured,) if configured else DEFAULT_ADMIN_DSNS:
        if _reachable(dsn):
            return dsn
    if configured:
        pytest.fail(f"{ADMIN_DSN_VARIABLE}={configured} is not reachable")
    stack_env: dict[str, str] = request.getfixturevalue("stack_env")
    return with_database(stack_env["PG_DSN"], "postgres")


@pytest.fixture(scope="module")
def pg_admin_dsn(request: pytest.FixtureRequest) -> str:
    return find_admin_dsn(request)


def _admin(admin_dsn: str, statement: str) -> None:
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@contextmanager
def scratch_database(admin_dsn: str, *, migrate: bool = True) -> Iterator[SourceSettings]:
    """A new, uniquely named database (with the source schema unless migrate=False), dropped afterwards."""
    name = f"gen_{uuid.uuid4().hex[:16]}"
    _admin(admin_dsn, f"CREATE DATABASE {name}")
    try:
        settings = SourceSettings(dsn=with_database(admin_dsn, name))
        if migrate:
            apply_migrations(settings)
        yield settings
    finally:
        _admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def query(settings: SourceSettings, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(settings.dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def table_rows(settings: SourceSettings, table: str) -> list[tuple[Any, ...]]:
    """Every row of table, in primary-key order (the key is each table's first column)."""
    return query(settings, f"SELECT * FROM {table} ORDER BY 1")


def row_counts(settings: SourceSettings) -> dict[str, int]:
    return {table: query(settings, f"SELECT count(*) FROM {table}")[0][0] for table in SOURCE_TABLES}


TOTAL_MISMATCHES = """
SELECT o.order_id, o.total_amount, COALESCE(SUM(d.total_price), 0)
FROM orders o LEFT JOIN order_details d USING (order_id)
GROUP BY o.order_id
HAVING o.total_amount <> COALESCE(SUM(d.total_price), 0)
"""
ORDERS_WITHOUT_LINES = """
SELECT o.order_id FROM orders o
WHERE NOT EXISTS (SELECT 1 FROM order_details d WHERE d.order_id = o.order_id)
"""
LINE_PRICE_MISMATCHES = "SELECT order_detail_id FROM order_details WHERE total_price <> quantity * price_per_unit"
