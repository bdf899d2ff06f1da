"""The state rows one batch reads and writes: a cache in front of the state tables.

The rows of the keys a batch touches are read up front (one query per
table), with the rows the Python contributions join with (an order's user,
a line's order, product and category) and the children that move with a
parent (a user's orders, an order's or a product's lines). Writes go to the
cache at once and to MySQL at flush(), with multi-row statements; flush()
must run before any SQL that reads the state tables.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from core.mysql_dialect import inserted
from marts.apply.multirow import chunks, placeholders
from marts.events import RowChange
from marts.schema import POSITION_COLUMN
from marts.state_tables import CATEGORIES, LINES, ORDERS, PRODUCTS, STATE_TABLES, USERS, R, Row, StateTable

# (child table, column) relations whose children a batch may need: a user's orders, an order's
# lines, a product's lines.
RELATIONS = ((ORDERS.source, "user_id"), (LINES.source, "order_id"), (LINES.source, "product_id"))
INDEXED: dict[str, tuple[str, ...]] = {ORDERS.source: ("user_id",), LINES.source: ("order_id", "product_id")}


class BatchState:
    """The state rows one batch has read or written, by table and key (None: no such row)."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.rows: dict[str, dict[Any, Row | None]] = {name: {} for name in STATE_TABLES}
        self.dirty: dict[str, dict[Any, Row | None]] = {name: {} for name in STATE_TABLES}
        # The source lsn of each dirty row's last change: stored beside the row, never compared with it.
        self.positions: dict[str, dict[Any, int | None]] = {name: {} for name in STATE_TABLES}
        # Per relation (child table, column): child keys by parent key (a superset: check each
        # child's current column value), complete for the parents in `loaded`: every child of
        # theirs in MySQL at the start of the batch was read.
        self.children: dict[tuple[str, str], dict[Any, set[Any]]] = {relation: {} for relation in RELATIONS}
        self.loaded: dict[tuple[str, str], set[Any]] = {relation: set() for relation in RELATIONS}

    def _rows(self, table: StateTable[R]) -> dict[Any, R | None]:
        return cast("dict[Any, R | None]", self.rows[table.source])

    def get(self, table: StateTable[R], key: Any) -> R | None:
        rows = self._rows(table)
        if key not in rows:
            self.load(table, [key])
        return rows[key]

    def put(self, table: StateTable[R], key: Any, row: R | None, lsn: int | None = None) -> None:
        self.rows[table.source][key] = row
        self.dirty[table.source][key] = row
        self.positions[table.source][key] = lsn
        if row is not None:
            self._index(table, row)

    def _index(self, table: StateTable[R], row: R) -> None:
        for column in INDEXED.get(table.source, ()):
            self.children[(table.source, column)].setdefault(getattr(row, column), set()).add(table.key_of(row))

    def children_of(self, table: StateTable[R], column: str, parent: Any) -> list[R] | None:
        """The rows of `table` whose `column` is `parent` now, if known without a query (else None)."""
        relation = (table.source, column)
        if parent not in self.loaded[relation]:
            return None
        rows = self._rows(table)
        found = (rows[key] for key in sorted(self.children[relation].get(parent, ())))
        return [row for row in found if row is not None and getattr(row, column) == parent]

    def load_children(self, table: StateTable[R], column: str, parents: Iterable[Any]) -> None:
        """Read every row of `table` whose `column` is one of `parents`; only before the batch writes."""
        assert not any(self.dirty.values()), "children must be loaded before the batch writes"
        relation = (table.source, column)
        rows = self._rows(table)
        wanted = sorted(set(parents) - self.loaded[relation])
        for chunk in chunks(wanted):
            self.cur.execute(f"SELECT {', '.join(table.column_names)} FROM {table.name}"
                             f" WHERE {column} IN ({placeholders(len(chunk))})", chunk)
            for found in self.cur.fetchall():
                row = table.row(found)
                rows.setdefault(table.key_of(row), row)
                self._index(table, row)
            self.loaded[relation].update(chunk)

    def load(self, table: StateTable[R], keys: Iterable[Any], for_update: bool = True) -> None:
        """Read the rows of `keys` not cached yet (locking them: SERIALIZABLE reads lock anyway)."""
        rows = self._rows(table)
        wanted = sorted({key for key in keys if key not in rows})
        for chunk in chunks(wanted):
            self.cur.execute(
                f"SELECT {', '.join(table.column_names)} FROM {table.name}"
                f" WHERE {table.key} IN ({placeholders(len(chunk))})" + (" FOR UPDATE" if for_update else ""),
                chunk,
            )
            found = {table.key_of(row): row for row in map(table.row, self.cur.fetchall())}
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
        self.load_children(ORDERS, "user_id", keys[USERS.source])
        self.load_children(LINES, "order_id", keys[ORDERS.source])
        self.load_children(LINES, "product_id", keys[PRODUCTS.source])
        users: set[Any] = set()
        for change in changes:
            if change.table == ORDERS.source:
                orders = (self._rows(ORDERS)[change.key], _after(ORDERS, change))
                users |= {order.user_id for order in orders if order is not None}
        lines = [line for line in self._rows(LINES).values() if line is not None]
        lines += [line for line in (_after(LINES, c) for c in changes if c.table == LINES.source) if line is not None]
        self.load(ORDERS, {line.order_id for line in lines}, for_update=False)
        self.load(PRODUCTS, {line.product_id for line in lines}, for_update=False)
        self.load(USERS, users, for_update=False)
        products = [product for product in self._rows(PRODUCTS).values() if product is not None]
        products += [product for product in (_after(PRODUCTS, c) for c in changes if c.table == PRODUCTS.source)
                     if product is not None]
        self.load(CATEGORIES, {product.category_id for product in products}, for_update=False)

    def flush(self) -> None:
        """Write the batch's changed rows (each with the lsn of its last change) to the state tables."""
        for name, changed in self.dirty.items():
            if not changed:
                continue
            table = STATE_TABLES[name]
            gone = sorted(key for key, row in changed.items() if row is None)
            for chunk in chunks(gone):
                self.cur.execute(f"DELETE FROM {table.name} WHERE {table.key} IN ({placeholders(len(chunk))})", chunk)
            positions = self.positions[name]
            present = [(*row, positions.get(key)) for key, row in sorted(changed.items()) if row is not None]
            if present:
                write_rows(self.cur, table, present)
            changed.clear()
            positions.clear()


def _after(table: StateTable[R], change: RowChange) -> R | None:
    """The change's after-image as the table's named row (None: the row is deleted)."""
    return None if change.after is None else table.row(change.after)


def write_rows(cur: Any, table: StateTable[Any], rows: Sequence[Row]) -> None:
    """Upsert state rows (each with its position last) with multi-row statements."""
    names = (*table.column_names, POSITION_COLUMN)
    updates = ", ".join(f"{name} = {inserted(name)}" for name in names[1:])
    cur.executemany(
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders(len(names))})"
        f" ON DUPLICATE KEY UPDATE {updates}",
        list(rows),
    )
