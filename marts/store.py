"""State, marts and applied offsets in MySQL, changed together in one transaction per batch.

Exactly-once effect: a batch's state changes, mart deltas and the last
applied offset of each (topic, partition) commit in one transaction, so an
event at or below its partition's stored offset has already been applied
and is skipped (duplicates, replays after a crash, a partition handed over
to another worker mid-batch).

Per row change: read the old state row; if nothing the marts use changed,
stop; if only labels (names) changed, update the state row and relabel the
mart rows at the end of the batch; otherwise compute the contributions of
the groups the row takes part in (scoped, indexed queries on the state
tables: work proportional to the row's own orders/lines), apply the state
change, compute them again, and buffer the difference. The batch's merged
deltas are upserted (``col = col + VALUES(col)``, valid on MySQL 8 and
MariaDB) and groups whose count reached zero are deleted.

Concurrency: transactions run SERIALIZABLE, where InnoDB makes every read a
locking read (next-key locks). Two workers applying, say, an order and one
of its lines at the same time cannot both miss each other: one waits for
the other or deadlocks and retries. Deadlocks (1213), lock wait timeouts
(1205) and lost connections are retried with the whole batch.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql

from cdc.errors import MartsError
from cdc.settings import MySqlSettings
from marts.contributions import MARTS, DeltaBuffer, Group, Key, MartSpec, diff, groups
from marts.events import Event, RowChange, Truncate
from marts.schema import OFFSETS, all_ddl
from marts.tables import CATEGORIES, STATE_TABLES, USERS, Row, StateTable

log = logging.getLogger(__name__)

RETRYABLE = {1213, 1205}  # deadlock, lock wait timeout
DISCONNECTED = {2006, 2013, 2003}  # gone away, lost, cannot connect
SPECS = {spec.name: spec for spec in MARTS}
# A label-only change of these tables relabels the mart rows from the state.
RELABEL = {
    USERS.source: ("UPDATE user_activity m JOIN mart_state_users s ON s.user_id = m.user_id"
                   " SET m.first_name = s.first_name, m.last_name = s.last_name,"
                   " m.updated_at = UTC_TIMESTAMP(6) WHERE m.user_id = %s"),
    CATEGORIES.source: ("UPDATE sales_by_category m JOIN mart_state_categories s"
                        " ON s.category_id = m.category_id SET m.name = s.name, m.updated_at = UTC_TIMESTAMP(6)"
                        " WHERE m.category_id = %s"),
}


@dataclass(frozen=True)
class BatchResult:
    applied: int
    skipped: int  # already applied before (duplicates, replays)
    attempts: int


def connect(mysql: MySqlSettings, database: bool = True) -> Any:
    kwargs = mysql.connect_kwargs()
    if not database:
        kwargs.pop("database")
    try:
        conn = pymysql.connect(**kwargs, charset="utf8mb4", autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            cur.execute("SET time_zone = '+00:00'")
            cur.execute("SET SESSION innodb_lock_wait_timeout = 10")
        return conn
    except pymysql.MySQLError as exc:
        raise MartsError(f"cannot connect to MySQL (MYSQL_URL) at {mysql.url.host}:{mysql.url.port}: {exc}") from exc


def ensure_schema(mysql: MySqlSettings) -> None:
    """Create the database (if missing), the marts, state and offsets tables (if missing)."""
    conn = connect(mysql, database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{mysql.url.database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{mysql.url.database}`")
            for ddl in all_ddl():
                cur.execute(ddl)
        conn.commit()
    finally:
        conn.close()


class MartStore:
    """Applies batches of events; owns one connection (use it from one thread at a time)."""

    def __init__(self, mysql: MySqlSettings, max_attempts: int = 30) -> None:
        self.mysql = mysql
        self.max_attempts = max_attempts
        self._conn: Any = None

    def apply(self, events: Sequence[Event]) -> BatchResult:
        for attempt in range(1, self.max_attempts + 1):
            try:
                conn = self._connection()
                with conn.cursor() as cur:
                    applied, skipped = apply_batch(cur, events)
                conn.commit()
                return BatchResult(applied, skipped, attempt)
            except pymysql.MySQLError as exc:
                code = exc.args[0] if exc.args else None
                self._abandon(code in DISCONNECTED or not isinstance(code, int))
                if not retryable(exc) or attempt == self.max_attempts:
                    raise MartsError(f"applying {len(events)} events failed: {exc}") from exc
                log.warning("batch of %d events: %s; retrying (attempt %d)", len(events), exc, attempt)
                time.sleep(min(2.0, 0.05 * attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._abandon(True)

    def _connection(self) -> Any:
        if self._conn is None:
            self._conn = connect(self.mysql)
        return self._conn

    def _abandon(self, drop: bool) -> None:
        if self._conn is None:
            return
        try:
            self._conn.rollback()
        except pymysql.MySQLError:
            drop = True
        if drop:
            try:
                self._conn.close()
            except pymysql.MySQLError:
                pass
            self._conn = None


def retryable(exc: pymysql.MySQLError) -> bool:
    """Deadlocks, lock wait timeouts, lost connections and server-side operational trouble
    (say, a temporary file gone); not errors in the SQL or the data."""
    code = exc.args[0] if exc.args else None
    return code in RETRYABLE | DISCONNECTED or isinstance(exc, (pymysql.OperationalError, pymysql.InternalError))


def apply_batch(cur: Any, events: Sequence[Event]) -> tuple[int, int]:
    """Apply the events not applied yet, in order, inside the caller's transaction."""
    stored = load_offsets(cur, {(e.position.topic, e.position.partition) for e in events})
    newest: dict[tuple[str, int], Event] = {}
    buffer, relabels = DeltaBuffer(), set()
    applied = skipped = 0
    for event in events:
        partition = (event.position.topic, event.position.partition)
        last = newest[partition].position.offset if partition in newest else stored.get(partition, -1)
        if event.position.offset <= last:
            skipped += 1
            continue
        newest[partition] = event
        applied += 1
        if isinstance(event.change, RowChange):
            apply_change(cur, event.change, buffer, relabels)
        elif isinstance(event.change, Truncate):
            truncate(cur, STATE_TABLES[event.change.table], buffer, relabels)
    flush(cur, buffer, relabels)
    save_offsets(cur, newest.values())
    return applied, skipped


def load_offsets(cur: Any, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    wanted = sorted(partitions)
    if not wanted:
        return {}
    condition = " OR ".join(["(topic = %s AND partition_id = %s)"] * len(wanted))
    cur.execute(f"SELECT topic, partition_id, last_offset FROM {OFFSETS} WHERE {condition} FOR UPDATE",
                [value for pair in wanted for value in pair])
    return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}


def save_offsets(cur: Any, events: Iterable[Event]) -> None:
    rows = [(e.position.topic, e.position.partition, e.position.offset, e.source_ts_ms) for e in events]
    if rows:
        cur.executemany(
            f"INSERT INTO {OFFSETS} (topic, partition_id, last_offset, source_ts_ms, applied_at)"
            " VALUES (%s, %s, %s, %s, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE"
            " last_offset = VALUES(last_offset), source_ts_ms = VALUES(source_ts_ms), applied_at = VALUES(applied_at)",
            rows,
        )


def apply_change(cur: Any, change: RowChange, buffer: DeltaBuffer, relabels: set[tuple[str, Any]]) -> None:
    table = STATE_TABLES[change.table]
    old = read_row(cur, table, change.key)
    new = change.after
    if old == new:
        return
    if old is not None and new is not None and table.label_only(old, new):
        write_row(cur, table, new)
        relabels.add((table.source, change.key))
        return
    # Every scoped contribution query joins the changed row itself, so a row
    # that does not exist contributes nothing: no query needed then.
    before = contributions(cur, table, change.key) if old is not None else None
    if new is None:
        cur.execute(f"DELETE FROM {table.name} WHERE {table.key} = %s", (change.key,))
    else:
        write_row(cur, table, new)
    after = contributions(cur, table, change.key) if new is not None else None
    for mart, _ in table.scopes:
        buffer.add(mart, diff((before or {}).get(mart, {}), (after or {}).get(mart, {})))


def truncate(cur: Any, table: StateTable, buffer: DeltaBuffer, relabels: set[tuple[str, Any]]) -> None:
    """Every state row of the table goes, one delete at a time (a large but rare operation)."""
    cur.execute(f"SELECT {table.key} FROM {table.name} ORDER BY {table.key}")
    keys = [key for (key,) in cur.fetchall()]
    log.warning("truncate of %s: deleting its %d state rows", table.source, len(keys))
    for key in keys:
        apply_change(cur, RowChange(table.source, key, None), buffer, relabels)


def read_row(cur: Any, table: StateTable, key: Any) -> Row | None:
    cur.execute(f"SELECT {', '.join(table.column_names)} FROM {table.name} WHERE {table.key} = %s FOR UPDATE",
                (key,))
    row = cur.fetchone()
    return tuple(row) if row is not None else None


def write_row(cur: Any, table: StateTable, row: Row) -> None:
    names = table.column_names
    updates = ", ".join(f"{name} = VALUES({name})" for name in names[1:])
    cur.execute(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        f" ON DUPLICATE KEY UPDATE {updates}",
        row,
    )


def contributions(cur: Any, table: StateTable, key: Any) -> dict[str, dict[Key, Group]]:
    """Per mart, the groups the row `key` of `table` takes part in, with all their rows' contributions."""
    out: dict[str, dict[Key, Group]] = {}
    for mart, scope in table.scopes:
        spec = SPECS[mart]
        cur.execute(spec.contribution_sql.format(scope=scope), (key,))
        out[mart] = groups(spec, cur.fetchall())
    return out


def flush(cur: Any, buffer: DeltaBuffer, relabels: set[tuple[str, Any]]) -> None:
    for spec in MARTS:
        upsert_deltas(cur, spec, buffer)
    for source, key in sorted(relabels):
        cur.execute(RELABEL[source], (key,))


def upsert_deltas(cur: Any, spec: MartSpec, buffer: DeltaBuffer) -> None:
    deltas = buffer.deltas(spec.name)
    if not deltas:
        return
    columns = spec.columns
    updates = [f"{name} = VALUES({name})" for name in spec.labels]
    updates += [f"{name} = {name} + VALUES({name})" for name in spec.measures]
    cur.executemany(
        f"INSERT INTO {spec.name} ({', '.join(columns)}, updated_at)"
        f" VALUES ({', '.join(['%s'] * len(columns))}, UTC_TIMESTAMP(6))"
        f" ON DUPLICATE KEY UPDATE {', '.join(updates)}, updated_at = VALUES(updated_at)",
        [delta.key + delta.labels + delta.measures for delta in deltas],
    )
    key_match = " AND ".join(f"{name} = %s" for name in spec.keys)
    cur.executemany(f"DELETE FROM {spec.name} WHERE {key_match} AND {spec.count} <= 0",
                    [delta.key for delta in deltas if delta.measures[spec.measures.index(spec.count)] <= 0])
