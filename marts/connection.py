"""The marts' MySQL session (through core.mysql): SERIALIZABLE transactions (why: marts.store), UTC
times, and lock waits bounded so that a deadlock-prone wait is retried rather than held."""
from __future__ import annotations

from pymysql.connections import Connection

from core import mysql as core_mysql
from core.settings import MySqlSettings

SESSION = (
    "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "SET time_zone = '+00:00'",
    "SET SESSION innodb_lock_wait_timeout = 10",
)


def connect(mysql: MySqlSettings, database: bool = True) -> Connection:
    """A marts connection; MySqlUnavailable if MySQL cannot be reached."""
    return core_mysql.connect(mysql, session=SESSION, database=database)
