"""MySqlSink: write a batch into the replica in one transaction, with multi-row statements.

Per table: the truncate (if any) as `DELETE FROM` (transactional, unlike
TRUNCATE which commits implicitly), then the deletes as one
`DELETE ... WHERE key IN (...)`, then the upserts through executemany of
`INSERT ... VALUES (...) ON DUPLICATE KEY UPDATE c=VALUES(c)` -- the form
both MySQL 8 and MariaDB 10.11 accept, and the one PyMySQL rewrites into a
single multi-row INSERT (it matches pymysql.cursors.RE_INSERT_VALUES).
Upserts and deletes of a batch touch distinct keys (the batch keeps one
action per key), so their relative order does not matter.

Failures are sorted in two kinds:
- MySQL unreachable or busy (connection lost, server gone, deadlock, lock
  wait timeout, missing table): MySqlUnavailable; nothing is committed, the
  connection is dropped and the caller retries the same batch later.
- MySQL refused a value (out of range, too long, ...): the transaction is
  rolled back and the batch is applied again row by row in one transaction,
  so only the failing rows come back as dead letters and the rest apply.

The session runs in strict SQL mode (a value that does not fit is an error,
never silently truncated) and with time_zone +00:00.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql

from cdc.errors import ConsumerError
from cdc.settings import MySqlSettings
from consumer.batch import Action, Batch, TableChanges
from consumer.deadletter import DeadLetter
from consumer.replica_schema import REPLICA_TABLES, TableSpec, ensure_database, ensure_tables

log = logging.getLogger(__name__)

# Server errors that say nothing about a row, so retrying (not dead-lettering) is right: too many
# connections, access denied (1044/1045/1142/1143), server shutdown, missing table (re-created on
# reconnect), lock wait timeout, deadlock, read-only server (1290/1836), connection killed, idle timeout.
RETRYABLE_SERVER_ERRORS = frozenset({1040, 1044, 1045, 1053, 1142, 1143, 1146, 1205, 1213, 1290, 1836, 1927, 4031})
CLIENT_ERRORS = 2000  # 2000..2999: client side (cannot connect, lost connection, ...)
DELETE_CHUNK = 1000


class MySqlUnavailable(ConsumerError):
    """MySQL could not take the batch now; nothing of it was committed."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (pymysql.err.InterfaceError, OSError)):
        return True
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code is None or code >= CLIENT_ERRORS or code in RETRYABLE_SERVER_ERRORS


def _quote(name: str) -> str:
    return f"`{name}`"


def upsert_sql(spec: TableSpec) -> str:
    columns = ", ".join(map(_quote, spec.column_names))
    placeholders = ", ".join(["%s"] * len(spec.columns))
    updates = ", ".join(f"{_quote(name)}=VALUES({_quote(name)})" for name in spec.column_names if name not in spec.key)
    return f"INSERT INTO {_quote(spec.name)} ({columns}) VALUES ({placeholders}) ON DUPLICATE KEY UPDATE {updates}"


def delete_sql(spec: TableSpec, count: int) -> str:
    if len(spec.key) == 1:
        target, item = _quote(spec.key[0]), "%s"
    else:
        target = "(" + ", ".join(map(_quote, spec.key)) + ")"
        item = "(" + ", ".join(["%s"] * len(spec.key)) + ")"
    return f"DELETE FROM {_quote(spec.name)} WHERE {target} IN ({', '.join([item] * count)})"


def truncate_sql(spec: TableSpec) -> str:
    return f"DELETE FROM {_quote(spec.name)}"


def _flat_keys(actions: Sequence[Action]) -> list[Any]:
    return [value for action in actions for value in (action.event.old_key if _moved(action) else action.event.key)]


def _moved(action: Action) -> bool:
    """A delete of the key an update moved away from (the event's key is the new one)."""
    return action.delete and not action.event.is_delete


@dataclass
class WriteResult:
    applied: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


class MySqlSink:
    def __init__(self, settings: MySqlSettings, connect_timeout: int = 5) -> None:
        self._settings = settings
        self._connect_timeout = connect_timeout
        self._conn: Any = None

    def connect(self) -> None:
        """Open the connection if needed, creating the database and tables (idempotent)."""
        if self._conn is not None:
            return
        kwargs = dict(self._settings.connect_kwargs())
        database = str(kwargs.pop("database"))
        try:
            conn = pymysql.connect(**kwargs, charset="utf8mb4", autocommit=False,
                                   connect_timeout=self._connect_timeout, read_timeout=60, write_timeout=60)
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'")
            ensure_database(conn, database)
            conn.select_db(database)
            ensure_tables(conn)
        except pymysql.MySQLError as exc:
            raise MySqlUnavailable(f"MySQL at {self._settings.url.host}:{self._settings.url.port}: {exc}") from exc
        self._conn = conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except pymysql.MySQLError:
                pass
            self._conn = None

    def write(self, batch: Batch) -> WriteResult:
        """Apply the batch and commit; MySqlUnavailable if nothing could be committed."""
        self.connect()
        try:
            try:
                applied = self._apply_all(batch)
                self._conn.commit()
                return WriteResult(applied)
            except pymysql.MySQLError as exc:
                if is_retryable(exc):
                    raise
                log.warning("MySQL refused the batch (%s); applying it row by row to isolate the bad rows", exc)
                self._conn.rollback()
                result = self._apply_each(batch)
                self._conn.commit()
                return result
        except (pymysql.MySQLError, OSError) as exc:
            self.close()
            raise MySqlUnavailable(f"MySQL write failed, will retry: {exc}") from exc

    def _apply_all(self, batch: Batch) -> int:
        applied = 0
        with self._conn.cursor() as cur:
            for name, changes in batch.tables.items():
                spec = REPLICA_TABLES[name]
                if changes.truncate:
                    cur.execute(truncate_sql(spec))
                deletes = changes.deletes()
                for start in range(0, len(deletes), DELETE_CHUNK):
                    chunk = deletes[start:start + DELETE_CHUNK]
                    cur.execute(delete_sql(spec, len(chunk)), _flat_keys(chunk))
                upserts = changes.upserts()
                if upserts:
                    cur.executemany(upsert_sql(spec), [action.event.row for action in upserts])
                applied += len(changes.actions) + changes.truncate
        return applied

    def _apply_each(self, batch: Batch) -> WriteResult:
        result = WriteResult()
        with self._conn.cursor() as cur:
            for name, changes in batch.tables.items():
                self._apply_table_each(cur, REPLICA_TABLES[name], changes, result)
        return result

    def _apply_table_each(self, cur: Any, spec: TableSpec, changes: TableChanges, result: WriteResult) -> None:
        if changes.truncate:
            cur.execute(truncate_sql(spec))
            result.applied += 1
        for action in changes.actions.values():
            try:
                if action.delete:
                    cur.execute(delete_sql(spec, 1), _flat_keys([action]))
                else:
                    cur.execute(upsert_sql(spec), action.event.row)
                result.applied += 1
            except pymysql.MySQLError as exc:
                if is_retryable(exc):
                    raise
                result.dead_letters.append(DeadLetter(action.event.raw, f"MySQL refused the row: {exc}", "apply"))
