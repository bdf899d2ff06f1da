"""How both stages reach MySQL: the worker connection, which failures are retried, the backoff, and statements
run while the next is made.

Failures come in two kinds, and both stages sort them with this one rule:
a transient failure (the server's or the connection's state) keeps the
batch and retries it later, nothing committed; a refused value isolates the
row(s) at fault and dead-letters them, so the pipeline goes on. An error
known as neither counts as transient: waiting on it is loud (warnings, an
unhealthy worker) and loses nothing, while dead-lettering good rows would
leave the tables wrong.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.connections import Connection
from pymysql.constants import COMMAND

from core.errors import MySqlUnavailable
from core.settings import MYSQL_IO_TIMEOUT_S, MySqlSettings

TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

# Server errors that say nothing about a row: too many connections, access denied (1044/1045/1142/1143),
# server shutdown, missing table (re-created on reconnect), lock wait timeout, deadlock, read-only server
# (1290/1836), connection killed, idle timeout.
TRANSIENT_SERVER_ERRORS = frozenset({1040, 1044, 1045, 1053, 1142, 1143, 1146, 1205, 1213, 1290, 1836, 1927, 4031})
CLIENT_ERRORS = 2000  # 2000..2999: client side (cannot connect, lost connection, ...)
# Value errors pymysql reports as OperationalError (it maps the others to DataError/IntegrityError):
# incorrect datetime value, division by 0, BIGINT out of range, invalid JSON, incorrect value for a
# function, CHECK constraint violated.
VALUE_ERRORS = frozenset({1292, 1365, 1690, 3140, 1411, 4025})
# Not ProgrammingError: an error in the SQL (or a table that no longer matches it) would otherwise
# dead-letter every row while the offsets move on.
VALUE_ERROR_CLASSES = (pymysql.DataError, pymysql.IntegrityError)
LOCK_CONFLICTS = frozenset({1213, 1205})  # deadlock, lock wait timeout: the transaction alone is retried
LOCK_CONFLICT_WAIT = 0.05  # seconds, jittered: another transaction holds the locks, not an outage


def error_code(exc: BaseException) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def is_transient(exc: BaseException) -> bool:
    """True for a failure of the server or the connection; False for one of the statement's values."""
    if isinstance(exc, (pymysql.err.InterfaceError, OSError, MySqlUnavailable)):
        return True
    code = error_code(exc)
    if code is None or code >= CLIENT_ERRORS or code in TRANSIENT_SERVER_ERRORS:
        return True
    return code not in VALUE_ERRORS and not isinstance(exc, VALUE_ERROR_CLASSES)


def is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock or lock wait timeout: the connection is fine, the transaction lost a race."""
    return isinstance(exc, pymysql.MySQLError) and error_code(exc) in LOCK_CONFLICTS


def connect(mysql: MySqlSettings, *, session: Sequence[str] = (), database: bool = True,
            connect_timeout: float = 10.0, io_timeout: float = MYSQL_IO_TIMEOUT_S) -> Connection:
    """A worker's connection (MySqlSettings.worker_kwargs) with the `session` statements run on it;
    without `database` it selects none (for a caller that creates it). MySqlUnavailable if it fails."""
    kwargs = mysql.worker_kwargs(connect_timeout, io_timeout)
    if not database:
        kwargs.pop("database")
    conn: Connection | None = None
    try:
        conn = pymysql.connect(**kwargs)
        with conn.cursor() as cur:
            for statement in session:
                cur.execute(statement)
        return conn
    except pymysql.MySQLError as exc:
        if conn is not None:
            close_quietly(conn)
        raise MySqlUnavailable(
            f"cannot connect to MySQL (MYSQL_URL) at {mysql.url.host}:{mysql.url.port}: {exc}") from exc


def fetch_all(mysql: MySqlSettings, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows of one statement, on a connection of its own (for tools and tests; a worker keeps its own)."""
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        close_quietly(conn)


def execute_rendering_ahead(conn: Connection, statements: Iterable[str]) -> None:
    """Run complete SQL statements (no parameters) in order, taking each next one from `statements` while MySQL
    runs the one before: when making a statement costs CPU (rendering a multi-row upsert), that work overlaps
    MySQL's, on another core. A statement MySQL refuses raises as `cursor.execute` would, the ones after it unsent.
    `statements` must not use `conn` itself: a statement is in flight while it makes the next.

    PyMySQL has no public call that sends without waiting for the result: this is `Connection.query` in its two
    halves (PyMySQL is pinned; tests/unit/core/test_mysql.py fails on another version)."""
    remaining = iter(statements)
    pending = next(remaining, None)
    while pending is not None:
        conn._execute_command(COMMAND.COM_QUERY, pending.encode(conn.encoding))
        try:
            following = next(remaining, None)
        except Exception:
            conn._read_query_result()  # the statement's own error, if any, comes first, as when run one by one
            raise
        except BaseException:  # an interrupt: no waiting for the statement; dropping the connection rolls it back
            conn._force_close()
            raise
        conn._read_query_result()
        pending = following


def close_quietly(conn: Connection) -> None:
    """Close a connection that may be broken already (nothing to report then)."""
    try:
        conn.close()
    except pymysql.MySQLError:
        pass


@dataclass
class Backoff:
    """Growing waits between attempts while MySQL fails: `first`, doubled each time up to `limit`."""

    first: float = 0.2
    limit: float = 10.0
    delay: float = 0.0  # the last wait; 0 while nothing fails
    next_try: float = 0.0  # time.monotonic() of the next attempt

    @property
    def failing(self) -> bool:
        return self.delay > 0

    def ready(self) -> bool:
        return time.monotonic() >= self.next_try

    def failed(self) -> float:
        """One more failure: the next wait (also kept in `delay` and `next_try`)."""
        self.delay = min(self.delay * 2, self.limit) if self.delay else self.first
        self.next_try = time.monotonic() + self.delay
        return self.delay

    def reset(self) -> None:
        self.delay = self.next_try = 0.0

    def wait_after(self, exc: BaseException) -> float:
        """The wait before retrying after `exc`, jittered so that workers do not retry in step: a moment
        for a lock conflict (the backoff does not grow), the next step otherwise."""
        if is_lock_conflict(exc):
            return LOCK_CONFLICT_WAIT * (0.5 + random.random())
        return self.failed() * (0.75 + random.random() / 2)
