"""The one SQL dialect every statement here is written in: what MySQL 8.4/9.x (compose's mysql:8.4, the
Oracle MySQL test lane) and MariaDB 10.11 (the default local stack) both accept, where they differ.

- The value a row would have been inserted with, in `INSERT ... ON DUPLICATE KEY UPDATE`: `VALUES(col)`.
  MariaDB has no other form; MySQL 8.0.20+ accepts it with a deprecation warning (1287) and prefers a
  row alias (`INSERT ... VALUES (...) AS new ... UPDATE col = new.col`), which MariaDB rejects and which
  PyMySQL's executemany does not batch into one multi-row statement. Should a MySQL release drop
  VALUES(), `inserted` is the one place to choose the form by server.
- A session's sql_mode, set by every worker session so that both servers (whatever their own
  configuration) are equally strict: MySQL 8's defaults with STRICT_ALL_TABLES. Strict mode without
  NO_ZERO_DATE, NO_ZERO_IN_DATE and ERROR_FOR_DIVISION_BY_ZERO draws MySQL's warning 3135 (they are to
  merge into strict mode).
"""
from __future__ import annotations

SQL_MODE = "ONLY_FULL_GROUP_BY,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO," \
           "NO_ENGINE_SUBSTITUTION"
UTC = "+00:00"
SESSION = f"SET SESSION sql_mode = '{SQL_MODE}', time_zone = '{UTC}'"


def inserted(column: str) -> str:
    """In an ON DUPLICATE KEY UPDATE clause: the value the statement would have inserted into `column`."""
    return f"VALUES({column})"
