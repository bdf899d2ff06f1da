"""MySQL for the tests: queries, waiting for rows, and an outage of one account."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pymysql

from core.errors import MySqlUnavailable
from core.mysql import close_quietly, connect, fetch_all
from core.settings import MySqlSettings


def mysql_rows(env: dict[str, str], sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return fetch_all(MySqlSettings.from_env(env), sql, params)


def server_sql(mysql: MySqlSettings, statement: str) -> None:
    """One statement on the server, in no database (creating or dropping one)."""
    conn = connect(mysql, database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        close_quietly(conn)


def wait_for_rows(env: dict[str, str], sql: str, params: tuple[Any, ...], count: int,
                  timeout: float = 60) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = mysql_rows(env, sql, params)
        except (pymysql.MySQLError, MySqlUnavailable):
            rows = []
        if len(rows) == count or time.monotonic() >= deadline:
            return rows
        time.sleep(0.3)


@dataclass(frozen=True)
class MySqlOutage:
    """An outage of MySQL for one account only: its password changes and its connections are killed.

    Deterministic (the server stays up for everyone else), and the consumer sees what an outage looks
    like to a client: a lost connection, then access denied on every reconnect until it ends.
    """

    admin: dict[str, str]  # an env whose MYSQL_URL may alter users
    user: str
    password: str

    def begin(self) -> None:
        self._admin_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (self.user, f"locked-{uuid.uuid4().hex}"))
        # SHOW PROCESSLIST: information_schema.processlist is deprecated in MySQL 8, and the stack's
        # Oracle MySQL runs without performance_schema.
        for connection in [row[0] for row in self._admin_sql("SHOW PROCESSLIST") if row[1] == self.user]:
            try:
                self._admin_sql(f"KILL CONNECTION {int(connection)}")
            except pymysql.MySQLError:
                pass  # it ended by itself meanwhile

    def end(self) -> None:
        self._admin_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (self.user, self.password))

    def _admin_sql(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return mysql_rows(self.admin, sql, params)


@contextmanager
def mysql_outage_account(replica_env: dict[str, str]) -> Iterator[tuple[dict[str, str], MySqlOutage]]:
    """Env whose MYSQL_URL is an account of its own on the replica database, and the outage of that account."""
    server = MySqlSettings.from_env(replica_env).url
    uid = uuid.uuid4().hex[:10]
    outage = MySqlOutage(admin=replica_env, user=f"cdc_{uid}", password=f"pw_{uid}")
    mysql_rows(replica_env, "CREATE USER %s@'%%' IDENTIFIED BY %s", (outage.user, outage.password))
    mysql_rows(replica_env, f"GRANT ALL PRIVILEGES ON `{server.database}`.* TO %s@'%%'", (outage.user,))
    url = MySqlSettings(replace(server, user=outage.user, password=outage.password)).to_url()
    try:
        yield {**replica_env, "MYSQL_URL": url}, outage
    finally:
        mysql_rows(replica_env, "DROP USER IF EXISTS %s@'%%'", (outage.user,))
