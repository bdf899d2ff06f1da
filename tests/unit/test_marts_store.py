"""Which MySQL errors the store retries with the whole batch."""
from __future__ import annotations

import pymysql
import pytest

from marts.store import retryable


@pytest.mark.parametrize("error", [
    pymysql.err.OperationalError(1213, "Deadlock found"), pymysql.err.OperationalError(1205, "Lock wait timeout"),
    pymysql.err.OperationalError(2013, "Lost connection"), pymysql.err.InternalError(6, "Error on delete of tmp"),
])
def test_contention_and_server_trouble_are_retried(error: pymysql.MySQLError) -> None:
    assert retryable(error)


@pytest.mark.parametrize("error", [
    pymysql.err.ProgrammingError(1146, "Table doesn't exist"), pymysql.err.DataError(1406, "Data too long"),
    pymysql.err.IntegrityError(1062, "Duplicate entry"),
])
def test_errors_in_sql_or_data_are_not(error: pymysql.MySQLError) -> None:
    assert not retryable(error)
