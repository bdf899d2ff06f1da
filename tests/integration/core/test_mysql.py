"""core.mysql.execute_rendering_ahead against the stack's real MySQL server: statements sent one by one, the next
made while the server runs the one before, with errors as `cursor.execute` raises them."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import pymysql
import pytest

from core.mysql import connect, execute_rendering_ahead, fetch_all
from core.settings import MySqlSettings
from tests.support.mysql import server_sql

pytestmark = pytest.mark.integration


@pytest.fixture
def database(stack_env: dict[str, str]) -> Iterator[MySqlSettings]:
    server = MySqlSettings.from_env(stack_env)
    name = f"ahead_{uuid.uuid4().hex[:12]}"
    server_sql(server, f"CREATE DATABASE `{name}`")
    settings = server.on_database(name)
    conn = connect(settings)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v TINYINT NOT NULL)")
    conn.close()
    yield settings
    server_sql(server, f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def conn(database: MySqlSettings) -> Iterator[pymysql.connections.Connection]:
    connection = connect(database, session=("SET SESSION sql_mode = 'STRICT_ALL_TABLES'",))
    yield connection
    connection.close()


def test_statements_apply_in_order(conn: pymysql.connections.Connection, database: MySqlSettings) -> None:
    execute_rendering_ahead(conn, iter(["INSERT INTO t VALUES (1, 1), (2, 2)", "UPDATE t SET v = 10 WHERE id = 1",
                                        "UPDATE t SET v = v + 1 WHERE id = 1"]))
    conn.commit()

    assert fetch_all(database, "SELECT id, v FROM t ORDER BY id") == [(1, 11), (2, 2)]


def test_the_next_statement_is_made_while_the_server_runs_the_one_before(conn: pymysql.connections.Connection,
                                                                        database: MySqlSettings) -> None:
    running_meanwhile: list[list[tuple[str]]] = []

    def statements() -> Iterator[str]:
        yield "DO SLEEP(1)"
        running_meanwhile.append(fetch_all(database, "SELECT info FROM information_schema.processlist"
                                                     " WHERE id = %s", (conn.thread_id(),)))
        yield "DO 1"

    execute_rendering_ahead(conn, statements())

    assert running_meanwhile == [[("DO SLEEP(1)",)]]


def test_a_refused_statement_raises_and_the_ones_after_it_are_not_sent(conn: pymysql.connections.Connection,
                                                                      database: MySqlSettings) -> None:
    statements = iter(["INSERT INTO t VALUES (1, 1)", "INSERT INTO t VALUES (2, 999)", "INSERT INTO t VALUES (3, 3)"])

    with pytest.raises(pymysql.err.DataError, match="Out of range value"):
        execute_rendering_ahead(conn, statements)
    conn.commit()

    assert fetch_all(database, "SELECT id FROM t ORDER BY id") == [(1,)]


def test_the_connection_stays_usable_when_making_the_next_statement_fails(
        conn: pymysql.connections.Connection) -> None:
    def statements() -> Iterator[str]:
        yield "INSERT INTO t VALUES (1, 1)"
        raise RuntimeError("rendering failed")

    with pytest.raises(RuntimeError, match="rendering failed"):
        execute_rendering_ahead(conn, statements())
    with conn.cursor() as cur:  # a connection out of step would read the INSERT's answer here, and no row
        cur.execute("SELECT id FROM t ORDER BY id")
        assert cur.fetchall() == ((1,),)
