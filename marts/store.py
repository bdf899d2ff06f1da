"""State, marts and applied offsets in MySQL, changed together in one transaction per batch.

Exactly-once effect: a batch's state changes, mart deltas and the last
applied offset of each (topic, partition) commit in one transaction, so an
event at or below its partition's stored offset has already been applied
and is skipped (duplicates, replays after a crash, a partition handed over
to another worker mid-batch).

Per row change: take the old state row (read for the whole batch up front:
one query per table for the keys the batch touches, then kept in a
per-batch cache that also holds the batch's own writes); if nothing the
marts use changed, stop; if only labels (names) changed, update the state
row and relabel the mart rows at the end of the batch; otherwise compute
the contributions of the groups the row takes part in, apply the state
change, compute them again, and buffer the difference. The frequent
changes, of orders and order lines, are computed in Python from the cached
rows they join with (an order's user, a line's order, product and
category), so they cost no query of their own; the rest (users, products,
categories, and an order that appears, disappears or is (un)cancelled,
which moves all its lines) run scoped, indexed queries on the state tables
(work proportional to the row's own orders/lines) after the pending state
writes are flushed. State writes are flushed with multi-row statements.
The batch's merged deltas are upserted (``col = col + VALUES(col)``, valid
on MySQL 8 and MariaDB) and groups whose count reached zero are deleted.

Truncates (core.truncation): a truncate consumed from one partition is
ordered against the row changes of its table on the others by source lsn.
Each state row keeps the lsn of its last applied change (written even when
its marts' columns did not change, since the position moved); a truncate
at T deletes, one change at a time (so the marts' deltas follow), only the
state rows older than T, and raises the table's watermark in
mart_truncations; a row change older than its table's watermark is ignored.
The watermarks are read in each batch's transaction (SERIALIZABLE: with
shared locks, so a worker raising one waits for the batches that read it).

Concurrency: transactions run SERIALIZABLE, where InnoDB makes every read a
locking read (next-key locks). Two workers applying, say, an order and one
of its lines at the same time cannot both miss each other: one waits for
the other or deadlocks and retries. Deadlocks (1213), lock wait timeouts
(1205), lost connections and outages are retried with the whole batch.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

import pymysql

from marts.errors import MartsError
from core.mysql_errors import error_code, is_transient
from core.settings import MySqlSettings
from core.truncation import raise_watermark, raised, survives
from marts.contributions import MARTS, Delta, DeltaBuffer, Group, Key, MartSpec, diff, groups
from marts.events import Event, RowChange, Truncate
from marts.schema import OFFSETS, POSITION_COLUMN, TRUNCATIONS, all_ddl, position_ddl, widen_ddl
from marts.tables import CATEGORIES, LINES, ORDERS, PRODUCTS, STATE_TABLES, USERS, Row, StateTable

log = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK = 1000  # rows or keys per multi-row statement
LOCK_CONFLICTS = {1213, 1205}  # deadlock, lock wait timeout: retried at once, on the same connection
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
    attempts: int  # transactions tried
    rejected: int = 0  # events MySQL refused: dead-lettered, applied as nothing

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(self.applied + other.applied, self.skipped + other.skipped,
                           self.attempts + other.attempts, self.rejected + other.rejected)


class MySqlUnavailable(MartsError):
    """MySQL cannot be reached now (the worker waits for it)."""


class StoreStopped(MartsError):
    """The worker stops while MySQL is unavailable: the batch is left uncommitted (it is read again)."""


class RejectedBatch(MartsError):
    """MySQL refused a value of the batch (too long, out of range, ...): the data's fault, not the server's."""


Reject = Callable[[Event, str], None]


def connect(mysql: MySqlSettings, database: bool = True) -> Any:
    kwargs = mysql.worker_kwargs()
    if not database:
        kwargs.pop("database")
    try:
        conn = pymysql.connect(**kwargs)
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            cur.execute("SET time_zone = '+00:00'")
            cur.execute("SET SESSION innodb_lock_wait_timeout = 10")
        return conn
    except pymysql.MySQLError as exc:
        raise MySqlUnavailable(f"cannot connect to MySQL (MYSQL_URL) at {mysql.url.host}:{mysql.url.port}: {exc}") from exc


def ensure_schema(mysql: MySqlSettings) -> None:
    """Create the database (if missing), the marts, state and offsets tables (if missing)."""
    conn = connect(mysql, database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{mysql.url.database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{mysql.url.database}`")
            for ddl in all_ddl():
                cur.execute(ddl)
            cur.execute("SELECT table_name, column_name, data_type FROM information_schema.columns"
                        " WHERE table_schema = DATABASE()")
            existing = {(table, column): kind for table, column, kind in cur.fetchall()}
            for ddl in widen_ddl(existing) + position_ddl(existing):
                cur.execute(ddl)
        conn.commit()
    finally:
        conn.close()


@dataclass
class Backoff:
    """Waits between attempts: short and jittered for lock conflicts, growing for outages."""

    first: float = 0.2
    limit: float = 10.0
    delay: float = 0.0

    def next(self, exc: BaseException) -> float:
        if error_code(exc) in LOCK_CONFLICTS:
            return 0.05 * (0.5 + random.random())
        self.delay = min(self.delay * 2, self.limit) if self.delay else self.first
        return self.delay * (0.75 + random.random() / 2)


class MartStore:
    """Applies batches of events; owns one connection (use it from one thread at a time).

    MySQL outages of any length are waited out (the batch is retried until it
    commits, or until `stopping` is set); a batch with a value MySQL refuses is
    split until the events at fault are found, and each of those goes to the
    caller's `reject` and is applied as nothing (its offset still counts).
    """

    def __init__(self, mysql: MySqlSettings,
                 on_batch_committed: Callable[[Sequence[Event]], None] | None = None) -> None:
        """`on_batch_committed(events)` runs right after a transaction's commit (for tests and measurements)."""
        self.mysql = mysql
        self.on_batch_committed = on_batch_committed
        self.stopping = threading.Event()
        self._conn: Any = None
        self._in_use = threading.Lock()  # the connection, between the worker's thread and close()
        # The last offset applied per (topic, partition), as this worker knows it: read at start,
        # advanced by its own commits. Never ahead of MySQL (another worker may have gone further).
        self._positions: dict[tuple[str, int], int] = {}
        self._positions_lock = threading.Lock()

    def load_positions(self) -> None:
        conn = connect(self.mysql)
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT topic, partition_id, last_offset FROM {OFFSETS}")
                with self._positions_lock:
                    self._positions = {(topic, partition): offset for topic, partition, offset in cur.fetchall()}
        finally:
            conn.close()

    def positions(self) -> dict[tuple[str, int], int]:
        with self._positions_lock:
            return dict(self._positions)

    def _advance(self, events: Sequence[Event]) -> None:
        with self._positions_lock:
            for event in events:
                where = (event.position.topic, event.position.partition)
                self._positions[where] = max(self._positions.get(where, -1), event.position.offset)

    def apply(self, events: Sequence[Event], reject: Reject | None = None) -> BatchResult:
        try:
            return self._commit(events)
        except RejectedBatch as exc:
            if reject is None:
                raise
            if len(events) == 1:
                return self._apply_rejected(events[0], str(exc), reject)
            half = len(events) // 2
            return self.apply(events[:half], reject) + self.apply(events[half:], reject)

    def _apply_rejected(self, event: Event, reason: str, reject: Reject) -> BatchResult:
        log.warning("MySQL refused the event at %s (%s); dead-lettering it", event.position, reason)
        reject(event, reason)
        return self._commit([replace(event, change=None)]) + BatchResult(0, 0, 0, rejected=1)

    def _commit(self, events: Sequence[Event]) -> BatchResult:
        """One transaction, tried until it commits; raises RejectedBatch or StoreStopped."""
        backoff, failing_since, attempt = Backoff(), None, 0
        while True:
            attempt += 1
            try:
                with self._in_use:
                    conn = self._connection()
                    with conn.cursor() as cur:
                        applied, skipped = apply_batch(cur, events)
                    conn.commit()
            except (pymysql.MySQLError, MySqlUnavailable) as exc:
                with self._in_use:
                    self._abandon(drop=not isinstance(exc, pymysql.MySQLError)
                                  or error_code(exc) not in LOCK_CONFLICTS)
                if not is_transient(exc):
                    raise RejectedBatch(str(exc)) from exc
                failing_since = failing_since or time.monotonic()
                delay = backoff.next(exc)
                self._log_wait(exc, attempt, delay)
                if self.stopping.wait(delay):
                    raise StoreStopped(f"stopped while MySQL is unavailable ({exc})") from exc
                continue
            self._advance(events)
            if self.on_batch_committed is not None:
                self.on_batch_committed(events)
            if failing_since is not None and backoff.delay:
                log.info("MySQL is back: a batch of %d events committed after %.1f s and %d attempts",
                         len(events), time.monotonic() - failing_since, attempt)
            return BatchResult(applied, skipped, attempt)

    @staticmethod
    def _log_wait(exc: BaseException, attempt: int, delay: float) -> None:
        if error_code(exc) in LOCK_CONFLICTS:
            log.info("batch: %s; retrying (attempt %d)", exc, attempt)
        elif attempt == 1 or attempt % 10 == 0:
            log.warning("MySQL unavailable (%s); waiting, next attempt in %.1f s (attempt %d)", exc, delay, attempt)

    def close(self) -> None:
        """Waits for a transaction in progress in another thread (a connection serves one thread at a time)."""
        with self._in_use:
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


def apply_batch(cur: Any, events: Sequence[Event]) -> tuple[int, int]:
    """Apply the events not applied yet, in order, inside the caller's transaction."""
    stored = load_offsets(cur, {(e.position.topic, e.position.partition) for e in events})
    newest: dict[tuple[str, int], Event] = {}
    buffer, relabels = DeltaBuffer(), set()
    todo: list[Event] = []
    skipped = 0
    for event in events:
        partition = (event.position.topic, event.position.partition)
        last = newest[partition].position.offset if partition in newest else stored.get(partition, -1)
        if event.position.offset <= last:
            skipped += 1
            continue
        newest[partition] = event
        todo.append(event)
    state = BatchState(cur)
    watermarks = load_watermarks(cur)
    state.prefetch([e.change for e in todo if isinstance(e.change, RowChange)])
    for event in todo:
        if isinstance(event.change, RowChange):
            if event.lsn is None or survives(event.lsn, watermarks.get(event.change.table)):
                apply_change(state, event.change, buffer, relabels, event.lsn)
        elif isinstance(event.change, Truncate):
            truncate(state, STATE_TABLES[event.change.table], event.lsn, watermarks, buffer, relabels)
    state.flush()
    flush(cur, buffer, relabels)
    save_offsets(cur, newest.values())
    return len(todo), skipped


def load_offsets(cur: Any, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    wanted = sorted(partitions)
    if not wanted:
        return {}
    condition = " OR ".join(["(topic = %s AND partition_id = %s)"] * len(wanted))
    cur.execute(f"SELECT topic, partition_id, last_offset FROM {OFFSETS} WHERE {condition} FOR UPDATE",
                [value for pair in wanted for value in pair])
    return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}


def load_watermarks(cur: Any) -> dict[str, int]:
    """Each source table's truncate watermark (a locking read: the transaction is SERIALIZABLE)."""
    cur.execute(f"SELECT table_name, lsn FROM {TRUNCATIONS}")
    return {name: lsn for name, lsn in cur.fetchall()}


def save_offsets(cur: Any, events: Iterable[Event]) -> None:
    rows = [(e.position.topic, e.position.partition, e.position.offset, e.source_ts_ms) for e in events]
    if rows:
        execute_rows(
            cur, f"INSERT INTO {OFFSETS} (topic, partition_id, last_offset, source_ts_ms, applied_at) VALUES",
            "(%s, %s, %s, %s, UTC_TIMESTAMP(6))",
            " ON DUPLICATE KEY UPDATE last_offset = VALUES(last_offset), source_ts_ms = VALUES(source_ts_ms),"
            " applied_at = VALUES(applied_at)",
            sorted(rows),
        )


# (child table, column) relations whose children a batch may need: a user's orders, an order's
# lines, a product's lines.
RELATIONS = ((ORDERS.source, 1), (LINES.source, 1), (LINES.source, 2))
INDEXED: dict[str, tuple[int, ...]] = {ORDERS.source: (1,), LINES.source: (1, 2)}


class BatchState:
    """The state rows one batch has read or written, by table and key (None: no such row).

    Writes go to the cache at once and to MySQL at flush(), which must run
    before any SQL that reads the state tables.
    """

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.rows: dict[str, dict[Any, Row | None]] = {name: {} for name in STATE_TABLES}
        self.dirty: dict[str, dict[Any, Row | None]] = {name: {} for name in STATE_TABLES}
        # The source lsn of each dirty row's last change: stored beside the row, never compared with it.
        self.positions: dict[str, dict[Any, int | None]] = {name: {} for name in STATE_TABLES}
        # Per relation (child table, column): child keys by parent key (a superset: check each
        # child's current column value), complete for the parents in `loaded`: every child of
        # theirs in MySQL at the start of the batch was read.
        self.children: dict[tuple[str, int], dict[Any, set[Any]]] = {relation: {} for relation in RELATIONS}
        self.loaded: dict[tuple[str, int], set[Any]] = {relation: set() for relation in RELATIONS}

    def get(self, table: StateTable, key: Any) -> Row | None:
        rows = self.rows[table.source]
        if key not in rows:
            self.load(table, [key])
        return rows[key]

    def put(self, table: StateTable, key: Any, row: Row | None, lsn: int | None = None) -> None:
        self.rows[table.source][key] = row
        self.dirty[table.source][key] = row
        self.positions[table.source][key] = lsn
        if row is not None:
            self._index(table, row)

    def _index(self, table: StateTable, row: Row) -> None:
        for column in INDEXED.get(table.source, ()):
            self.children[(table.source, column)].setdefault(row[column], set()).add(row[0])

    def children_of(self, table: StateTable, column: int, parent: Any) -> list[Row] | None:
        """The rows of `table` whose `column` is `parent` now, if known without a query (else None)."""
        relation = (table.source, column)
        if parent not in self.loaded[relation]:
            return None
        rows = self.rows[table.source]
        found = (rows[key] for key in sorted(self.children[relation].get(parent, ())))
        return [row for row in found if row is not None and row[column] == parent]

    def load_children(self, table: StateTable, column: int, parents: Iterable[Any]) -> None:
        """Read every row of `table` whose `column` is one of `parents`; only before the batch writes."""
        assert not any(self.dirty.values()), "children must be loaded before the batch writes"
        relation = (table.source, column)
        rows = self.rows[table.source]
        wanted = sorted(set(parents) - self.loaded[relation])
        name = table.column_names[column]
        for chunk in chunks(wanted):
            self.cur.execute(f"SELECT {', '.join(table.column_names)} FROM {table.name}"
                             f" WHERE {name} IN ({placeholders(len(chunk))})", chunk)
            for found in self.cur.fetchall():
                row = tuple(found)
                rows.setdefault(row[0], row)
                self._index(table, row)
            self.loaded[relation].update(chunk)

    def load(self, table: StateTable, keys: Iterable[Any], for_update: bool = True) -> None:
        """Read the rows of `keys` not cached yet (locking them: SERIALIZABLE reads lock anyway)."""
        rows = self.rows[table.source]
        wanted = sorted({key for key in keys if key not in rows})
        for chunk in chunks(wanted):
            self.cur.execute(
                f"SELECT {', '.join(table.column_names)} FROM {table.name}"
                f" WHERE {table.key} IN ({placeholders(len(chunk))})" + (" FOR UPDATE" if for_update else ""),
                chunk,
            )
            found = {row[0]: tuple(row) for row in self.cur.fetchall()}
            for key in chunk:
                rows[key] = found.get(key)
                if key in found:
                    self._index(table, found[key])

    def prefetch(self, changes: Sequence[RowChange]) -> None:
        """Read up front the rows the changes replace and those the Python contributions join with."""
        keys: dict[str, set[Any]] = {name: set() for name in STATE_TABLES}
        for change in changes:
            keys[change.table].add(change.key)
        for name, wanted in keys.items():
            self.load(STATE_TABLES[name], wanted)
        # A user, product or order that appears, disappears or moves (or is (un)cancelled) moves
        # all its orders or lines.
        self.load_children(ORDERS, 1, keys[USERS.source])
        self.load_children(LINES, 1, keys[ORDERS.source])
        self.load_children(LINES, 2, keys[PRODUCTS.source])
        users: set[Any] = set()
        for change in changes:
            if change.table == ORDERS.source:
                users |= {row[1] for row in (self.rows[ORDERS.source][change.key], change.after) if row is not None}
        lines = [row for row in self.rows[LINES.source].values() if row is not None]
        lines += [c.after for c in changes if c.table == LINES.source and c.after is not None]
        self.load(ORDERS, {row[1] for row in lines}, for_update=False)
        self.load(PRODUCTS, {row[2] for row in lines}, for_update=False)
        self.load(USERS, users, for_update=False)
        categories = {row[1] for row in self.rows[PRODUCTS.source].values() if row is not None}
        categories |= {c.after[1] for c in changes if c.table == PRODUCTS.source and c.after is not None}
        self.load(CATEGORIES, categories, for_update=False)

    def flush(self) -> None:
        for name, changed in self.dirty.items():
            if not changed:
                continue
            table = STATE_TABLES[name]
            gone = sorted(key for key, row in changed.items() if row is None)
            for chunk in chunks(gone):
                self.cur.execute(f"DELETE FROM {table.name} WHERE {table.key} IN ({placeholders(len(chunk))})", chunk)
            positions = self.positions[name]
            present = [row + (positions.get(key),) for key, row in sorted(changed.items()) if row is not None]
            if present:
                write_rows(self.cur, table, present)
            changed.clear()
            positions.clear()


def apply_change(state: BatchState, change: RowChange, buffer: DeltaBuffer, relabels: set[tuple[str, Any]],
                 lsn: int | None = None) -> None:
    """Apply one row change made at source position `lsn` (None: unknown, older than any truncate)."""
    table = STATE_TABLES[change.table]
    old = state.get(table, change.key)
    new = change.after
    if old == new:
        if new is not None and lsn is not None:
            state.put(table, change.key, new, lsn)  # no delta, but a truncate before `lsn` must keep the row
        return
    if old is not None and new is not None and table.label_only(old, new):
        state.put(table, change.key, new, lsn)
        relabels.add((table.source, change.key))
        return
    sql_scopes = []
    for mart, scope in table.scopes:
        compute = PYTHON_SCOPES.get((table.source, mart))
        deltas = compute(state, old, new) if compute is not None else None
        if deltas is None:
            sql_scopes.append((mart, scope))
        else:
            buffer.add(mart, deltas)
    if not sql_scopes:
        state.put(table, change.key, new, lsn)
        return
    # Every scoped contribution query joins the changed row itself, so a row
    # that does not exist contributes nothing: no query needed then.
    state.flush()
    before = {mart: sql_contributions(state.cur, mart, scope, change.key) if old is not None else {}
              for mart, scope in sql_scopes}
    state.put(table, change.key, new, lsn)
    state.flush()
    for mart, scope in sql_scopes:
        after = sql_contributions(state.cur, mart, scope, change.key) if new is not None else {}
        buffer.add(mart, diff(before[mart], after))


def sql_contributions(cur: Any, mart: str, scope: str, key: Any) -> dict[Key, Group]:
    """The groups of `mart` the row `key` takes part in, with all their rows' contributions (scope's rows)."""
    spec = SPECS[mart]
    cur.execute(spec.contribution_sql.format(scope=scope), (key,))
    return groups(spec, cur.fetchall())


def _order_activity(state: BatchState, order: Row | None) -> dict[Key, Group]:
    """An order's contribution to user_activity: one order in its (user, status) group, if its user exists."""
    if order is None:
        return {}
    order_id, user_id, status, amount = order
    user = state.get(USERS, user_id)
    if user is None:
        return {}
    key = (user_id, status)
    return {key: Group(key, (user[1], user[2]), (1, Decimal(amount)))}


def order_activity_deltas(state: BatchState, old: Row | None, new: Row | None) -> list[Delta]:
    return diff(_order_activity(state, old), _order_activity(state, new))


def order_sales_deltas(state: BatchState, old: Row | None, new: Row | None) -> list[Delta] | None:
    """Nothing when the order's lines count before and after alike (it exists and stays (not) cancelled);
    when it appears, disappears or is (un)cancelled all its lines move: computed from the cached lines
    if they are all known, else None (ask SQL)."""
    if old is not None and new is not None and (old[2] == CANCELLED) == (new[2] == CANCELLED):
        return []
    if (old is None or old[2] == CANCELLED) and (new is None or new[2] == CANCELLED):
        return []
    order_id = (old if old is not None else new)[0]  # type: ignore[index]
    lines = state.children_of(LINES, 1, order_id)
    if lines is None:
        return None
    return diff(_order_sales(state, old, lines), _order_sales(state, new, lines))


def _order_sales(state: BatchState, order: Row | None, lines: Sequence[Row]) -> dict[Key, Group]:
    """The contribution of an order's lines to sales_by_category, given the order's row."""
    if order is None or order[2] == CANCELLED:
        return {}
    out: dict[Key, Group] = {}
    for line in lines:
        for key, group in _line_sales(state, line, order).items():
            seen = out.get(key)
            out[key] = group if seen is None else Group(key, group.labels, tuple(
                a + b for a, b in zip(seen.measures, group.measures)))
    return out


def _line_sales(state: BatchState, line: Row | None, order: Row | None = None) -> dict[Key, Group]:
    """A line's contribution to sales_by_category, if its order (not cancelled), product and category exist
    (`order`: the order's row, when the caller has it)."""
    if line is None:
        return {}
    _, order_id, product_id, quantity, price = line
    if order is None:
        order = state.get(ORDERS, order_id)
    if order is None or order[2] == CANCELLED:
        return {}
    product = state.get(PRODUCTS, product_id)
    if product is None:
        return {}
    category = state.get(CATEGORIES, product[1])
    if category is None:
        return {}
    key = (category[0],)
    return {key: Group(key, (category[1],), (int(quantity), Decimal(price), 1))}


def line_sales_deltas(state: BatchState, old: Row | None, new: Row | None) -> list[Delta]:
    return diff(_line_sales(state, old), _line_sales(state, new))


def _user_activity(user: Row | None, orders: Sequence[Row]) -> dict[Key, Group]:
    """A user's orders' contribution to user_activity, given the user's row."""
    if user is None:
        return {}
    out: dict[Key, Group] = {}
    for _, user_id, status, amount in orders:
        key = (user_id, status)
        seen = out.get(key)
        count, total = (1, Decimal(amount)) if seen is None else (seen.measures[0] + 1, seen.measures[1] + amount)
        out[key] = Group(key, (user[1], user[2]), (count, total))
    return out


def user_activity_deltas(state: BatchState, old: Row | None, new: Row | None) -> list[Delta] | None:
    """A user that appears or disappears brings or takes all its orders (from the cache if all known)."""
    orders = state.children_of(ORDERS, 1, (old if old is not None else new)[0])  # type: ignore[index]
    if orders is None:
        return None
    return diff(_user_activity(old, orders), _user_activity(new, orders))


def _product_sales(state: BatchState, product: Row | None, lines: Sequence[Row]) -> dict[Key, Group]:
    """A product's lines' contribution to sales_by_category, given the product's row."""
    if product is None:
        return {}
    category = state.get(CATEGORIES, product[1])
    if category is None:
        return {}
    key = (category[0],)
    quantity, total, count = 0, Decimal(0), 0
    for _, order_id, _, line_quantity, price in lines:
        order = state.get(ORDERS, order_id)
        if order is not None and order[2] != CANCELLED:
            quantity, total, count = quantity + int(line_quantity), total + Decimal(price), count + 1
    return {key: Group(key, (category[1],), (quantity, total, count))} if count else {}


def product_sales_deltas(state: BatchState, old: Row | None, new: Row | None) -> list[Delta] | None:
    """A product that appears, disappears or changes category moves all its lines (from the cache if all known)."""
    lines = state.children_of(LINES, 2, (old if old is not None else new)[0])  # type: ignore[index]
    if lines is None:
        return None
    return diff(_product_sales(state, old, lines), _product_sales(state, new, lines))


CANCELLED = "cancelled"
# (table, mart) -> deltas computed from cached rows, or None: use the scoped SQL instead.
PYTHON_SCOPES: dict[tuple[str, str], Callable[[BatchState, Row | None, Row | None], list[Delta] | None]] = {
    (ORDERS.source, "user_activity"): order_activity_deltas,
    (ORDERS.source, "sales_by_category"): order_sales_deltas,
    (LINES.source, "sales_by_category"): line_sales_deltas,
    (USERS.source, "user_activity"): user_activity_deltas,
    (PRODUCTS.source, "sales_by_category"): product_sales_deltas,
}


def truncate(state: BatchState, table: StateTable, lsn: int | None, watermarks: dict[str, int],
             buffer: DeltaBuffer, relabels: set[tuple[str, Any]]) -> None:
    """The state rows older than the truncate go, one change at a time (a large but rare operation);
    `watermarks` is raised for the rest of the batch. Without `lsn` every row goes."""
    watermark = watermarks.get(table.source)
    if lsn is not None and watermark is not None and lsn <= watermark:
        return  # the rows it would delete went with the newer truncate
    if lsn is not None:
        raise_watermark(state.cur, TRUNCATIONS, table.source, lsn)  # first: waits for the batches that read the old one
        watermarks[table.source] = raised(watermark, lsn)
    state.flush()
    older = "" if lsn is None else f" WHERE {POSITION_COLUMN} < %s OR {POSITION_COLUMN} IS NULL"
    state.cur.execute(f"SELECT {table.key} FROM {table.name}{older} ORDER BY {table.key}",
                      () if lsn is None else (lsn,))
    keys = [key for (key,) in state.cur.fetchall()]
    log.warning("truncate of %s at lsn %s: deleting its %d state rows written before it", table.source, lsn, len(keys))
    state.load(table, keys)
    for key in keys:
        apply_change(state, RowChange(table.source, key, None), buffer, relabels)


def write_rows(cur: Any, table: StateTable, rows: Sequence[Row]) -> None:
    """Upsert state rows (each with its position last) with multi-row statements."""
    names = (*table.column_names, POSITION_COLUMN)
    updates = ", ".join(f"{name} = VALUES({name})" for name in names[1:])
    cur.executemany(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders(len(names))})"
        f" ON DUPLICATE KEY UPDATE {updates}",
        list(rows),
    )


def flush(cur: Any, buffer: DeltaBuffer, relabels: set[tuple[str, Any]]) -> None:
    for spec in MARTS:
        upsert_deltas(cur, spec, buffer)
    for source, key in sorted(relabels):
        cur.execute(RELABEL[source], (key,))


def upsert_deltas(cur: Any, spec: MartSpec, buffer: DeltaBuffer) -> None:
    deltas = sorted(buffer.deltas(spec.name), key=lambda delta: delta.key)  # one lock order for every worker
    if not deltas:
        return
    columns = spec.columns
    updates = [f"{name} = VALUES({name})" for name in spec.labels]
    updates += [f"{name} = {name} + VALUES({name})" for name in spec.measures]
    execute_rows(
        cur, f"INSERT INTO {spec.name} ({', '.join(columns)}, updated_at) VALUES",
        f"({placeholders(len(columns))}, UTC_TIMESTAMP(6))",
        f" ON DUPLICATE KEY UPDATE {', '.join(updates)}, updated_at = VALUES(updated_at)",
        [delta.key + delta.labels + delta.measures for delta in deltas],
    )
    count = spec.measures.index(spec.count)
    empty = [delta.key for delta in deltas if delta.measures[count] <= 0]
    for chunk in chunks(empty):
        # OR of key equalities, not a row-constructor IN: MariaDB scans the whole table for the latter.
        match = " OR ".join(["(" + " AND ".join(f"{name} = %s" for name in spec.keys) + ")"] * len(chunk))
        cur.execute(f"DELETE FROM {spec.name} WHERE ({match}) AND {spec.count} <= 0",
                    [value for key in chunk for value in key])


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in runs of at most CHUNK, for one statement each."""
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def execute_rows(cur: Any, head: str, row: str, tail: str, rows: Sequence[Sequence[Any]]) -> None:
    """`head row, row, ... tail` for up to CHUNK rows a statement (pymysql's executemany sends a VALUES
    row holding anything but placeholders, like UTC_TIMESTAMP(6), one statement per row)."""
    for chunk in chunks(rows):
        cur.execute(f"{head} {', '.join([row] * len(chunk))}{tail}", [value for values in chunk for value in values])
