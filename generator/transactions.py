"""The kinds of shop transaction the live stream applies, one function each.

Each function does its writes through the cursor it is given and returns
whether it applied (False: no row fit, nothing written). Every kind that
touches order lines locks the order first and rewrites total_amount from
the order's lines, so at every commit an order's total_amount is the exact
sum of its lines' total_price. No kind leaves an order without lines: a
line is deleted only from an order that has two or more.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from generator import db, model
from generator.model import LineRow, OrderRow, Randomness
from generator.sampling import sample_row
from generator.tables import CATEGORIES, LINES, ORDERS, PRODUCTS, USERS, Table


class Kind(StrEnum):
    NEW_ORDER = "new_order"
    ADVANCE_STATUS = "advance_status"
    CANCEL_ORDER = "cancel_order"
    DELETE_ORDER = "delete_order"
    EDIT_QUANTITY = "edit_quantity"
    DELETE_LINE = "delete_line"
    RENAME_USER = "rename_user"
    CHANGE_PRICE = "change_price"
    MOVE_PRODUCT = "move_product"
    RENAME_CATEGORY = "rename_category"
    NEW_USER = "new_user"
    NEW_PRODUCT = "new_product"


# How often each kind is drawn, in percent.
WEIGHTS: Mapping[Kind, int] = MappingProxyType({
    Kind.NEW_ORDER: 28,
    Kind.ADVANCE_STATUS: 24,
    Kind.CANCEL_ORDER: 4,
    Kind.DELETE_ORDER: 3,
    Kind.EDIT_QUANTITY: 8,
    Kind.DELETE_LINE: 5,
    Kind.RENAME_USER: 4,
    Kind.CHANGE_PRICE: 6,
    Kind.MOVE_PRODUCT: 3,
    Kind.RENAME_CATEGORY: 2,
    Kind.NEW_USER: 8,
    Kind.NEW_PRODUCT: 5,
})
DRAW = model.weighted(WEIGHTS)

NEXT_STATUS: Mapping[str, str] = MappingProxyType({"pending": "paid", "paid": "shipped", "shipped": "completed"})


@dataclass(frozen=True)
class Tx:
    """What a transaction kind works with: the open transaction's cursor, randomness, the time."""

    cur: Any
    rand: Randomness
    now: datetime


def draw_kind(rand: Randomness) -> Kind:
    return rand.rng.choice(DRAW)


def apply(kind: Kind, tx: Tx) -> Kind:
    """Apply kind, or a new order if no row fits it (a new user if not even that); returns what ran."""
    for candidate in (kind, Kind.NEW_ORDER, Kind.NEW_USER):
        if RUNNERS[candidate](tx):
            return candidate
    raise AssertionError("a new user always applies")


# --- orders ----------------------------------------------------------------------

def new_order(tx: Tx) -> bool:
    """A pending order of 1-5 distinct products at their current prices."""
    user = sample_row(tx.cur, tx.rand.rng, USERS, "t.user_id")
    products = _distinct_products(tx, model.line_count(tx.rand.rng))
    if user is None or not products:
        return False
    (order_id,) = db.next_ids(tx.cur, ORDERS, 1)
    lines = model.build_lines(order_id, db.next_ids(tx.cur, LINES, len(products)), products, tx.rand.rng)
    total = model.order_total(line.total_price for line in lines)
    db.insert_rows(tx.cur, ORDERS, [OrderRow(order_id, user[0], tx.now, total, "pending", None)])
    db.insert_rows(tx.cur, LINES, lines)
    return True


def _distinct_products(tx: Tx, count: int) -> list[tuple[int, Decimal]]:
    chosen: dict[int, Decimal] = {}
    for _ in range(count * 3):
        row = sample_row(tx.cur, tx.rand.rng, PRODUCTS, "t.product_id, t.price", "t.price <= %s", (model.MAX_PRICE,))
        if row is None:
            break
        chosen.setdefault(row[0], row[1])
        if len(chosen) == count:
            break
    return list(chosen.items())


def advance_status(tx: Tx) -> bool:
    """pending -> paid -> shipped (expected delivery date) -> completed (actual delivery date)."""
    order = _lock_order(tx, "t.status IN ('pending', 'paid', 'shipped')", "t.order_id, t.status")
    if order is None:
        return False
    order_id, status = order
    new_status = NEXT_STATUS[status]
    tx.cur.execute(
        "UPDATE orders SET status = %s, delivery_date = %s WHERE order_id = %s",
        (new_status, delivery_date(new_status, tx), order_id),
    )
    return True


def delivery_date(new_status: str, tx: Tx) -> date | None:
    """Shipped now: the expected date; completed now: today, the actual date."""
    if new_status == "shipped":
        return model.expected_delivery(tx.now, tx.rand.rng)
    if new_status == "completed":
        return tx.now.date()
    return None


def cancel_order(tx: Tx) -> bool:
    """A pending or paid order is cancelled (shipped ones can no longer be)."""
    return _change_one_order(
        tx, "t.status IN ('pending', 'paid')",
        "UPDATE orders SET status = 'cancelled', delivery_date = NULL WHERE order_id = %s",
    )


def delete_order(tx: Tx) -> bool:
    """Any order; its lines go with it (ON DELETE CASCADE)."""
    return _change_one_order(tx, "TRUE", "DELETE FROM orders WHERE order_id = %s")


def _change_one_order(tx: Tx, where: str, statement: str) -> bool:
    """Lock one order matching where and run statement with its order_id."""
    order = _lock_order(tx, where)
    if order is None:
        return False
    tx.cur.execute(statement, order)
    return True


def _lock_order(tx: Tx, where: str, columns: str = "t.order_id") -> tuple[Any, ...] | None:
    return sample_row(tx.cur, tx.rand.rng, ORDERS, columns, where, lock=True)


# --- order lines -------------------------------------------------------------------

def edit_quantity(tx: Tx) -> bool:
    """Change one line's quantity in a pending order; the line and order totals follow."""
    return _change_one_line(tx, "t.status = 'pending'", _requantify)


def delete_line(tx: Tx) -> bool:
    """Remove one line of a pending order that has two or more, so it keeps at least one."""
    has_two = "t.status = 'pending' AND (SELECT count(*) FROM order_details d WHERE d.order_id = t.order_id) >= 2"
    return _change_one_line(tx, has_two, _delete_line, min_lines=2)


def _change_one_line(
    tx: Tx, where: str, change: Callable[[Tx, LineRow], LineRow | None], min_lines: int = 1
) -> bool:
    """Lock an order matching where, change one of its lines (None: deleted it), then rewrite its total.

    The lines are counted again once the order is locked: when the lock had to wait for another
    writer of the order (`live --workers`), PostgreSQL rechecks `where` on the order's new row but
    evaluates its subqueries on the statement's older snapshot, so a line count in `where` may be
    stale.
    """
    order = _lock_order(tx, where)
    if order is None:
        return False
    lines = _lines_of(tx, order[0])
    if len(lines) < min_lines:
        return False
    target = tx.rand.rng.choice(lines)
    changed = change(tx, target)
    after = [changed if line is target else line for line in lines]
    _set_total(tx, order[0], [line for line in after if line is not None])
    return True


def _requantify(tx: Tx, line: LineRow) -> LineRow:
    qty = model.other_quantity(line.quantity, tx.rand.rng)
    edited = line._replace(quantity=qty, total_price=model.line_total(qty, line.price_per_unit))
    tx.cur.execute(
        "UPDATE order_details SET quantity = %s, total_price = %s WHERE order_detail_id = %s",
        (edited.quantity, edited.total_price, edited.order_detail_id),
    )
    return edited


def _delete_line(tx: Tx, line: LineRow) -> None:
    tx.cur.execute("DELETE FROM order_details WHERE order_detail_id = %s", (line.order_detail_id,))
    return None


def _lines_of(tx: Tx, order_id: int) -> list[LineRow]:
    tx.cur.execute(
        f"SELECT {LINES.column_list} FROM order_details WHERE order_id = %s ORDER BY order_detail_id", (order_id,)
    )
    return [LineRow(*row) for row in tx.cur.fetchall()]


def _set_total(tx: Tx, order_id: int, lines: Sequence[LineRow]) -> None:
    total = model.order_total(line.total_price for line in lines)
    tx.cur.execute("UPDATE orders SET total_amount = %s WHERE order_id = %s", (total, order_id))


# --- users, products, categories -----------------------------------------------------

def rename_user(tx: Tx) -> bool:
    """A new last name (marriage, typo fixed); the e-mail address stays."""
    return _set_column(tx, USERS, "last_name", _other_last_name)


def change_price(tx: Tx) -> bool:
    """A new shelf price; lines already ordered keep the price they were sold at."""
    return _set_column(tx, PRODUCTS, "price", lambda price, tx: model.repriced(price, tx.rand.rng))


def move_product(tx: Tx) -> bool:
    return _set_column(tx, PRODUCTS, "category_id", _other_category)


def rename_category(tx: Tx) -> bool:
    return _set_column(tx, CATEGORIES, "name", _other_category_name)


def _set_column(tx: Tx, table: Table, column: str, new_value: Callable[[Any, Tx], object | None]) -> bool:
    """Lock one row of table and set column to new_value(current value); False if no row or no new value."""
    row = sample_row(tx.cur, tx.rand.rng, table, f"t.{table.key}, t.{column}", lock=True)
    value = None if row is None else new_value(row[1], tx)
    if row is None or value is None:
        return False
    tx.cur.execute(f"UPDATE {table.name} SET {column} = %s WHERE {table.key} = %s", (value, row[0]))
    return True


def _other_last_name(current: str, tx: Tx) -> str:
    new = tx.rand.rng.choice(tx.rand.names.last)
    return new if new != current else f"{new}-{tx.rand.rng.choice(tx.rand.names.last)}"


def _other_category(current: int, tx: Tx) -> int | None:
    row = sample_row(tx.cur, tx.rand.rng, CATEGORIES, "t.category_id", "t.category_id <> %s", (current,))
    return None if row is None else int(row[0])


def _other_category_name(current: str, tx: Tx) -> str:
    new = model.category_name(tx.rand.rng)
    return new if new != current else f"{new} & More"


def new_user(tx: Tx) -> bool:
    (user_id,) = db.next_ids(tx.cur, USERS, 1)
    db.insert_rows(tx.cur, USERS, [model.build_user(user_id, tx.rand, tx.now)])
    return True


def new_product(tx: Tx) -> bool:
    category = sample_row(tx.cur, tx.rand.rng, CATEGORIES, "t.category_id")
    if category is None:
        return False
    (product_id,) = db.next_ids(tx.cur, PRODUCTS, 1)
    db.insert_rows(tx.cur, PRODUCTS, [model.build_product(product_id, category[0], tx.rand, tx.now)])
    return True


RUNNERS: Mapping[Kind, Callable[[Tx], bool]] = MappingProxyType({
    Kind.NEW_ORDER: new_order,
    Kind.ADVANCE_STATUS: advance_status,
    Kind.CANCEL_ORDER: cancel_order,
    Kind.DELETE_ORDER: delete_order,
    Kind.EDIT_QUANTITY: edit_quantity,
    Kind.DELETE_LINE: delete_line,
    Kind.RENAME_USER: rename_user,
    Kind.CHANGE_PRICE: change_price,
    Kind.MOVE_PRODUCT: move_product,
    Kind.RENAME_CATEGORY: rename_category,
    Kind.NEW_USER: new_user,
    Kind.NEW_PRODUCT: new_product,
})
