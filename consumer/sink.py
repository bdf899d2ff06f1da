"""MySqlSink: write a batch into the replica in one transaction, with multi-row statements.

First the tables' truncate watermarks are read (consumer.truncations);
changes from before a table's watermark are dropped (core.truncation).
Then per table the truncate (if any, and newer than the watermark) as
`DELETE FROM ... WHERE _cdc_lsn < lsn` (transactional, unlike TRUNCATE which
commits implicitly) with the raised watermark, and the deletes as
`DELETE ... WHERE key IN (...)`. Then every table's upserts, as multi-row
`INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE c=VALUES(c)` -- the
form both MySQL 8 and MariaDB 10.11 accept (core.mysql_dialect) -- each row with its change's lsn
in the position column, in one stream of statements: each is rendered by
RowRenderer (exactly as PyMySQL escapes them, several times faster) while
MySQL runs the one before (core.mysql.execute_rendering_ahead).
upsert_sql, the one-row form with placeholders, serves the row-by-row path.
Within a table, upserts and deletes touch distinct keys (the batch keeps one
action per key), so their relative order does not matter; across tables
nothing does either, since the replica has no foreign keys and no unique
index besides each table's primary key.

Failures are sorted in two kinds (core.mysql.is_transient):
- MySQL unreachable or busy (connection lost, server gone, deadlock, lock
  wait timeout, missing table): MySqlUnavailable; nothing is committed, the
  connection is dropped and the caller retries the same batch later.
- MySQL refused a value (out of range, too long, ...): the transaction is
  rolled back and the batch is applied again row by row in one transaction,
  so only the failing rows come back as dead letters and the rest apply.

A batch that follows source schema changes (consumer.schema) first runs their
ALTER TABLEs, each skipped if the table's comment shows it applied (DDL
commits by itself in MySQL), then writes the tables' new definitions to
cdc_replica_schemas in its transaction. An ALTER MySQL refuses stops the
consumer with the statement: the replica table is not what the consumer
expects, and only a person can tell why.

The session runs in strict SQL mode (a value that does not fit is an error,
never silently truncated) and with time_zone +00:00.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pymysql

from consumer.batch import Action, Batch, SchemaStep, TableChanges
from consumer.envelope import Row
from consumer.errors import ConsumerError, WatermarkAhead
from consumer.replica_schema import (
    POSITION_COLUMN,
    StoredSchema,
    TableSpec,
    ensure_database,
    ensure_tables,
    quoted,
    read_loose_offsets,
    read_schemas,
    write_loose_offsets,
    write_schema,
)
from consumer.schema import applied_version
from consumer.truncations import apply_truncate, read_watermarks
from core import mysql_dialect, watermark
from core.deadletter import DeadLetter
from core.errors import MySqlUnavailable
from core.mysql import close_quietly, connect, execute_rendering_ahead, is_transient
from core.mysql_dialect import inserted
from core.settings import MySqlSettings
from core.watermark import REPLICA_STAGE

log = logging.getLogger(__name__)
T = TypeVar("T")

DELETE_CHUNK = 1000
# Characters of the rows' literals in one multi-row upsert (about 1 MB at most at 4 bytes a character: far
# under MariaDB's and MySQL's default max_allowed_packet, 16 MiB+; a single larger row makes a statement of its
# own). Small enough that the next statement's rendering overlaps MySQL's run of this one all along a batch
# (core.mysql.execute_rendering_ahead); at 1,000,000 (PyMySQL executemany's size) a large batch's first
# rendering and last run were left alone: its write took 0.8-1.0 s instead of 0.7-0.8 (100,000 changes).
MAX_STATEMENT = 250_000


def _quote(name: str) -> str:
    return f"`{name}`"


def upsert_sql(spec: TableSpec) -> str:
    """One row with placeholders: the source's columns, then the change's lsn."""
    placeholders = ", ".join(["%s"] * (len(spec.columns) + 1))
    return f"{_upsert_head(spec)}({placeholders}){_upsert_tail(spec)}"


def _stored_columns(spec: TableSpec) -> tuple[str, ...]:
    return (*spec.column_names, POSITION_COLUMN)


def _upsert_head(spec: TableSpec) -> str:
    return f"INSERT INTO {_quote(spec.name)} ({', '.join(map(_quote, _stored_columns(spec)))}) VALUES "


def _upsert_tail(spec: TableSpec) -> str:
    updates = ", ".join(f"{_quote(name)}={inserted(_quote(name))}" for name in _stored_columns(spec)
                        if name not in spec.key)
    return f" ON DUPLICATE KEY UPDATE {updates}"


def stored_row(action: Action) -> Row:
    """The upserted row as stored: the source's values, then the change's lsn."""
    assert action.event.row is not None
    return action.event.row + (action.event.lsn,)


def _datetime_literal(value: datetime) -> str:
    return f"'{value.isoformat(' ')}'" if value.tzinfo is None else pymysql.converters.escape_datetime(value)


def _date_literal(value: date) -> str:
    return f"'{value.isoformat()}'"


class RowRenderer:
    """Rows -> SQL literals, as PyMySQL's escaping writes them, in a fraction of its time.

    PyMySQL's executemany escapes every value through several generic layers, which costs more
    than decoding the message it came from; the replica's values have few exact types, so each
    gets a direct conversion and anything else goes through the connection's own escape.
    """

    def __init__(self, escape: Callable[[Any], str]) -> None:
        self._escape = escape
        self._by_type: dict[type, Callable[[Any], str]] = {
            int: int.__repr__, str: escape, Decimal: _decimal_literal, datetime: _datetime_literal,
            date: _date_literal, type(None): _null_literal,
        }

    def row(self, row: Row) -> str:
        by_type, escape = self._by_type, self._escape
        return "(" + ",".join([by_type.get(value.__class__, escape)(value) for value in row]) + ")"

    def upserts(self, spec: TableSpec, rows: Iterable[Row]) -> Iterator[str]:
        """Multi-row upserts of at most MAX_STATEMENT characters of rows each (and at least one row)."""
        head, tail = _upsert_head(spec), _upsert_tail(spec)
        chunk: list[str] = []
        size = 0
        for row in rows:
            literal = self.row(row)
            if chunk and size + len(literal) > MAX_STATEMENT:
                yield head + ",".join(chunk) + tail
                chunk, size = [], 0
            chunk.append(literal)
            size += len(literal) + 1
        if chunk:
            yield head + ",".join(chunk) + tail


def _decimal_literal(value: Decimal) -> str:
    return format(value, "f")


def _null_literal(value: None) -> str:
    return "NULL"


def delete_sql(spec: TableSpec, count: int) -> str:
    if len(spec.key) == 1:
        target, item = _quote(spec.key[0]), "%s"
    else:
        target = "(" + ", ".join(map(_quote, spec.key)) + ")"
        item = "(" + ", ".join(["%s"] * len(spec.key)) + ")"
    return f"DELETE FROM {_quote(spec.name)} WHERE {target} IN ({', '.join([item] * count)})"


def _flat_keys(actions: Sequence[Action]) -> list[Any]:
    return [value for action in actions for value in _deleted_key(action)]


def _deleted_key(action: Action) -> tuple[Any, ...]:
    key = action.event.old_key if _moved(action) else action.event.key
    assert key is not None  # a batch's actions are row changes, never truncates
    return key


def _moved(action: Action) -> bool:
    """A delete of the key an update moved away from (the event's key is the new one)."""
    return action.delete and not action.event.is_delete


def _upsert_statements(render: RowRenderer, upserts_by_table: Sequence[tuple[TableSpec, list[Action]]]
                       ) -> Iterator[str]:
    """Every table's upserts in one stream, so that the next statement is rendered while MySQL runs the one before
    across tables too."""
    for spec, upserts in upserts_by_table:
        yield from render.upserts(spec, map(stored_row, upserts))


def applied_before(cur: Any, batch: Batch) -> bool:
    """Whether the watermark, read locked in the batch's own transaction, shows the batch applied already.

    True when it is at or past the batch's last transaction: a commit whose acknowledgement was lost (the
    batch is retried after a broken connection) or another consumer's. WatermarkAhead when it lies within
    the batch: only a second consumer writing at the same time does that. Only one consumer writes
    (core.leader); should a second one ever write too, no transaction is applied twice or after a newer one.
    """
    if batch.first_lsn is None or batch.source_point is None:
        return False
    stored = watermark.read_lsn(cur, REPLICA_STAGE, for_update=True)
    if stored < batch.first_lsn:
        return False
    if stored >= batch.source_point.lsn:
        return True
    raise WatermarkAhead(f"the replica's watermark is at LSN {stored}, past this batch's first transaction "
                         f"({batch.first_lsn}) and before its last ({batch.source_point.lsn}): another consumer "
                         f"is writing. Stopping, so that only one does (this one restarts as a standby)")


def _store_schemas(cur: Any, batch: Batch) -> None:
    for step in batch.schema_steps:
        write_schema(cur, step.stored)
    write_loose_offsets(cur, batch.loose)


def _advance_watermark(cur: Any, batch: Batch) -> None:
    if batch.source_point is not None:
        watermark.write(cur, REPLICA_STAGE, batch.source_point)


@dataclass
class WriteResult:
    applied: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


class MySqlSink:
    def __init__(self, settings: MySqlSettings, connect_timeout: int = 5) -> None:
        self._settings = settings
        self._connect_timeout = connect_timeout
        self._conn: Any = None
        self._render: RowRenderer | None = None
        self._specs: dict[str, TableSpec] = {}  # the replica tables, created where missing at each connect

    def connect(self) -> None:
        """Open the connection if needed, creating the database and tables (idempotent)."""
        if self._conn is not None:
            return
        conn = connect(self._settings, session=(mysql_dialect.SESSION,), database=False,
                       connect_timeout=self._connect_timeout)
        database = self._settings.url.database
        try:
            ensure_database(conn, database)
            conn.select_db(database)
            ensure_tables(conn, self._specs.values())
        except pymysql.MySQLError as exc:
            close_quietly(conn)
            raise MySqlUnavailable(f"MySQL at {self._settings.url.host}:{self._settings.url.port}: {exc}") from exc
        self._conn = conn
        self._render = RowRenderer(conn.escape)

    def applied_lsn(self) -> int:
        """The replica's watermark: the commit LSN of the last source transaction applied (-1: none)."""
        return self._read("the replica's watermark", lambda cur: watermark.read_lsn(cur, REPLICA_STAGE))

    def stored_schemas(self) -> dict[str, StoredSchema]:
        """The source definition each replica table mirrors as of the watermark (consumer.schema)."""
        return self._read("the replica's table definitions", read_schemas)

    def loose_offsets(self) -> dict[tuple[str, int], int]:
        """Per partition, the last message outside any transaction applied (consumer.replica_schema.LOOSE_OFFSETS)."""
        return self._read("the replica's applied reads", read_loose_offsets)

    def _read(self, what: str, read: Callable[[Any], T]) -> T:
        """read(cursor) in a transaction of its own; MySqlUnavailable naming `what` if MySQL cannot answer."""
        self.connect()
        try:
            with self._conn.cursor() as cur:
                result = read(cur)
            self._conn.commit()
            return result
        except (pymysql.MySQLError, OSError) as exc:
            self.close()
            raise MySqlUnavailable(f"cannot read {what}: {exc}") from exc

    def start_tables(self, specs: dict[str, TableSpec], first: list[StoredSchema]) -> None:
        """Create the replica tables where missing, and store the definitions of the tables seen the first time."""
        self._specs = dict(specs)
        self.close()  # connect() creates them
        self.connect()
        try:
            with self._conn.cursor() as cur:
                for stored in first:
                    write_schema(cur, stored)
            self._conn.commit()
        except (pymysql.MySQLError, OSError) as exc:
            self.close()
            raise MySqlUnavailable(f"cannot store the replica's table definitions: {exc}") from exc

    def close(self) -> None:
        if self._conn is not None:
            close_quietly(self._conn)
            self._conn = None

    def write(self, batch: Batch) -> WriteResult:
        """Apply the batch and commit; MySqlUnavailable if nothing could be committed."""
        self._specs.update(batch.specs)
        self.connect()
        self._alter_tables(batch.schema_steps)
        try:
            try:
                applied = self._apply_all(batch)
                self._conn.commit()
                self._tighten(batch.schema_steps)
                return WriteResult(applied)
            except WatermarkAhead:
                self._conn.rollback()
                raise
            except pymysql.MySQLError as exc:
                if is_transient(exc):
                    raise
                log.warning("MySQL refused the batch (%s); applying it row by row to isolate the bad rows", exc)
                self._conn.rollback()
                result = self._apply_each(batch)
                self._conn.commit()
                self._tighten(batch.schema_steps)
                return result
        except (pymysql.MySQLError, OSError) as exc:
            self.close()
            raise MySqlUnavailable(f"MySQL write failed, will retry: {exc}") from exc

    def _alter_tables(self, steps: list[SchemaStep]) -> None:
        """Each step's ALTER (or recreation), unless the table's comment shows it done (a retry, or a restart after a
        crash between the DDL and the commit of the batch's transaction)."""
        for step in steps:
            if step.alter is None and step.recreate is None:
                continue
            try:
                with self._conn.cursor() as cur:
                    cur.execute("SELECT table_comment FROM information_schema.tables"
                                " WHERE table_schema = DATABASE() AND table_name = %s", (step.table,))
                    row = cur.fetchone()
                    comment = row[0] if row else None
                    if step.recreate is not None:
                        if comment != step.marker:
                            log.warning("making the replica table %s anew (%s)", step.table, step.marker)
                            cur.execute(f"DROP TABLE IF EXISTS {quoted(step.table)}")
                            cur.execute(step.recreate)
                        continue
                    done = applied_version(comment)
                    if done is not None and done >= step.version:
                        continue
                    log.info("source schema change %d of %s: %s", step.version, step.table, step.alter)
                    cur.execute(step.alter)
            except (pymysql.MySQLError, OSError) as exc:
                if isinstance(exc, OSError) or is_transient(exc):
                    self.close()
                    raise MySqlUnavailable(f"MySQL ALTER TABLE failed, will retry: {exc}") from exc
                raise ConsumerError(
                    f"MySQL refused the replica's change of {step.table} for source schema change {step.version} "
                    f"({exc}): {step.alter or step.recreate}. The replica table differs from what the consumer "
                    "expects (changed by hand?). Way out: make it match the source's definition by hand, then start "
                    "the consumer again; or see README, Operations, 'A paused table'") from exc

    def _tighten(self, steps: list[SchemaStep]) -> None:
        """Columns the source made NOT NULL, once the batch's rows are in (idempotent). Should it fail (a crash, a
        refusal), the column stays NULL-able: it holds the source's values either way."""
        for step in steps:
            if step.tighten is None:
                continue
            try:
                with self._conn.cursor() as cur:
                    cur.execute(step.tighten)
            except pymysql.MySQLError as exc:
                log.warning("source schema change %d of %s: %s failed (%s); the column stays NULL-able",
                            step.version, step.table, step.tighten, exc)

    def _apply_all(self, batch: Batch) -> int:
        render = self._render
        assert render is not None, "connect() sets it with the connection"
        applied = 0
        with self._conn.cursor() as cur:
            if applied_before(cur, batch):
                log.warning("the replica's watermark shows this batch applied already; nothing written")
                return 0
            _store_schemas(cur, batch)
            watermarks = read_watermarks(cur)
            upserts_by_table: list[tuple[TableSpec, list[Action]]] = []
            for name, changes in batch.tables.items():
                spec = batch.specs[name]
                watermark = apply_truncate(cur, spec, changes.truncate_lsn, watermarks.get(name))
                deletes = changes.deletes(watermark)
                for start in range(0, len(deletes), DELETE_CHUNK):
                    chunk = deletes[start:start + DELETE_CHUNK]
                    cur.execute(delete_sql(spec, len(chunk)), _flat_keys(chunk))
                upserts = changes.upserts(watermark)
                upserts_by_table.append((spec, upserts))
                applied += len(deletes) + len(upserts) + changes.truncate
            execute_rendering_ahead(self._conn, _upsert_statements(render, upserts_by_table))
            _advance_watermark(cur, batch)
        return applied

    def _apply_each(self, batch: Batch) -> WriteResult:
        result = WriteResult()
        with self._conn.cursor() as cur:
            if applied_before(cur, batch):
                return result
            _store_schemas(cur, batch)
            watermarks = read_watermarks(cur)
            for name, changes in batch.tables.items():
                self._apply_table_each(cur, batch.specs[name], changes, watermarks.get(name), result)
            _advance_watermark(cur, batch)
        return result

    def _apply_table_each(self, cur: Any, spec: TableSpec, changes: TableChanges, watermark: int | None,
                          result: WriteResult) -> None:
        watermark = apply_truncate(cur, spec, changes.truncate_lsn, watermark)
        result.applied += changes.truncate
        for action in changes.live(watermark):
            try:
                if action.delete:
                    cur.execute(delete_sql(spec, 1), _flat_keys([action]))
                else:
                    cur.execute(upsert_sql(spec), stored_row(action))
                result.applied += 1
            except pymysql.MySQLError as exc:
                if is_transient(exc):
                    raise
                result.dead_letters.append(DeadLetter(action.event.raw, f"MySQL refused the row: {exc}", "apply"))
