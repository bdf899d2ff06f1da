"""Which MySQL failures are waited out (the server's state) and which reject the data; statements run while the next
is made (with a recording connection: tests/integration/core/test_mysql.py runs them on the real servers)."""
from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest
from pymysql.connections import Connection

from core.mysql import execute_rendering_ahead, is_transient


@pytest.mark.parametrize("error", [
    pymysql.err.OperationalError(1213, "Deadlock found"), pymysql.err.OperationalError(1205, "Lock wait timeout"),
    pymysql.err.OperationalError(2013, "Lost connection"), pymysql.err.OperationalError(2003, "Can't connect"),
    pymysql.err.InternalError(6, "Error on delete of tmp"), pymysql.err.ProgrammingError(1146, "Table doesn't exist"),
    pymysql.err.OperationalError(1045, "Access denied"), pymysql.err.InterfaceError(0, ""),
    ConnectionRefusedError(111, "refused"), pymysql.err.OperationalError(1021, "Disk full"),
    pymysql.err.ProgrammingError(1054, "Unknown column"), pymysql.err.ProgrammingError(1064, "syntax"),
])
def test_contention_outages_server_trouble_and_sql_errors_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    pymysql.err.DataError(1406, "Data too long"), pymysql.err.DataError(1264, "Out of range value"),
    pymysql.err.IntegrityError(1062, "Duplicate entry"),
    pymysql.err.OperationalError(1292, "Incorrect datetime value"),
    pymysql.err.OperationalError(1690, "BIGINT UNSIGNED value is out of range"),
])
def test_values_mysql_refuses_are_not(error: pymysql.MySQLError) -> None:
    assert not is_transient(error)


def test_a_lock_conflict_is_retried_at_once_and_an_outage_waits_longer_each_time() -> None:
    from core.mysql import Backoff

    backoff = Backoff(first=0.2, limit=10.0)
    assert backoff.wait_after(pymysql.err.OperationalError(1213, "Deadlock found")) < 0.1
    assert not backoff.failing  # a lost race is no outage
    outage = pymysql.err.OperationalError(2003, "Can't connect")
    waits = [backoff.wait_after(outage) for _ in range(8)]
    assert 0.15 <= waits[0] <= 0.25 and 7.5 <= waits[-1] <= 12.5
    assert backoff.failing and backoff.delay == 10.0


class RecordingConnection:
    """The two halves of PyMySQL's Connection.query that execute_rendering_ahead calls, and a forced close."""

    encoding = "utf8"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _execute_command(self, command: int, sql: bytes) -> None:
        self.calls.append(f"send {sql.decode()}")

    def _read_query_result(self) -> int:
        self.calls.append("read")
        return 1

    def _force_close(self) -> None:
        self.calls.append("close")


def failing_after_one(error: BaseException) -> Iterator[str]:
    yield "DO 1"
    raise error


def test_the_next_statement_is_made_between_sending_one_and_reading_its_result() -> None:
    conn = RecordingConnection()
    made = []

    def statements() -> Iterator[str]:
        for number in (1, 2):
            made.append(list(conn.calls))
            yield f"DO {number}"

    execute_rendering_ahead(conn, statements())

    assert made == [[], ["send DO 1"]]
    assert conn.calls == ["send DO 1", "read", "send DO 2", "read"]


def test_a_failure_making_the_next_statement_reads_the_result_in_flight_first() -> None:
    conn = RecordingConnection()

    with pytest.raises(RuntimeError, match="rendering failed"):
        execute_rendering_ahead(conn, failing_after_one(RuntimeError("rendering failed")))

    assert conn.calls == ["send DO 1", "read"]


def test_an_interrupt_while_making_the_next_statement_drops_the_connection_without_waiting() -> None:
    conn = RecordingConnection()

    with pytest.raises(KeyboardInterrupt):
        execute_rendering_ahead(conn, failing_after_one(KeyboardInterrupt()))

    assert conn.calls == ["send DO 1", "close"]


def test_pymysql_is_the_version_whose_private_calls_execute_rendering_ahead_uses() -> None:
    # On another version, re-read Connection.query, _execute_command, _read_query_result and _force_close.
    assert pymysql.VERSION[:3] == (1, 2, 4)
    assert all(callable(getattr(Connection, name)) for name in ("_execute_command", "_read_query_result",
                                                                "_force_close"))
