"""Which MySQL failures are waited out (the server's state) and which reject the data."""
from __future__ import annotations

import pymysql
import pytest

from core.mysql import is_transient


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
