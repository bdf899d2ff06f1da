"""Which MySQL failures are the server's state (wait and retry) and which are the data's (reject the row).

Both stages sort their failures with this one rule: a transient failure
keeps the batch and retries it later, nothing committed; a rejected value
isolates the row(s) at fault and dead-letters them, so the pipeline goes on.
An error that is neither known as transient nor as a value error counts as
transient: waiting on it is loud (warnings, an unhealthy worker) and loses
nothing, while dead-lettering good rows would leave the tables wrong.
"""
from __future__ import annotations

import pymysql

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


def error_code(exc: BaseException) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def is_transient(exc: BaseException) -> bool:
    """True for a failure of the server or the connection; False for one of the statement's values."""
    if isinstance(exc, (pymysql.err.InterfaceError, OSError)):
        return True
    code = error_code(exc)
    if code is None or code >= CLIENT_ERRORS or code in TRANSIENT_SERVER_ERRORS:
        return True
    return code not in VALUE_ERRORS and not isinstance(exc, VALUE_ERROR_CLASSES)
