"""What one row change does to the marts: the deltas of the groups it takes part in.

The frequent changes, of orders and order lines, are computed in Python
from the cached rows they join with (marts.apply.batch_state), so they cost no query
of their own; so are users and products whose orders or lines are all
cached. The rest run the mart's state query scoped to the changed row
(indexed, work proportional to the row's own orders/lines): `sql_groups`,
before and after the change (see marts.apply.row_change).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from marts.apply.batch_state import BatchState
from marts.apply.groups import Delta, Group, Key, diff, groups
from marts.definitions import CANCELLED, MARTS
from marts.state_tables import (
    CATEGORIES,
    LINES,
    ORDERS,
    PRODUCTS,
    USERS,
    CategoryRow,
    LineRow,
    OrderRow,
    ProductRow,
    UserRow,
)

SPECS = {spec.name: spec for spec in MARTS}
R = TypeVar("R")


def sql_groups(cur: Any, mart: str, scope: str, key: Any) -> dict[Key, Group]:
    """The groups of `mart` the row `key` takes part in, with all their rows' contributions (scope's rows)."""
    spec = SPECS[mart]
    cur.execute(spec.state_query(scope), (key,))
    return groups(spec, cur.fetchall())


def _either(old: R | None, new: R | None) -> R:
    """The row before the change, or after it if it did not exist before."""
    row = old if old is not None else new
    assert row is not None, "a change has a row before or after it"
    return row


def _counts_for_sales(order: OrderRow | None) -> bool:
    return order is not None and order.status != CANCELLED


def _order_activity(state: BatchState, order: OrderRow | None) -> dict[Key, Group]:
    """An order's contribution to user_activity: one order in its (user, status) group, if its user exists."""
    if order is None:
        return {}
    user = state.get(USERS, order.user_id)
    if user is None:
        return {}
    key = (order.user_id, order.status)
    return {key: Group(key, (user.first_name, user.last_name), (1, Decimal(order.total_amount)))}


def order_activity_deltas(state: BatchState, old: OrderRow | None, new: OrderRow | None) -> list[Delta]:
    return diff(_order_activity(state, old), _order_activity(state, new))


def order_sales_deltas(state: BatchState, old: OrderRow | None, new: OrderRow | None) -> list[Delta] | None:
    """Nothing when the order's lines count before and after alike (it exists and stays (not) cancelled,
    or counts neither before nor after); when it appears, disappears or is (un)cancelled all its lines
    move: computed from the cached lines if they are all known, else None (ask SQL)."""
    if old is not None and new is not None and _counts_for_sales(old) == _counts_for_sales(new):
        return []
    if not _counts_for_sales(old) and not _counts_for_sales(new):
        return []
    lines = state.children_of(LINES, "order_id", _either(old, new).order_id)
    if lines is None:
        return None
    return diff(_order_sales(state, old, lines), _order_sales(state, new, lines))


def _order_sales(state: BatchState, order: OrderRow | None, lines: Sequence[LineRow]) -> dict[Key, Group]:
    """The contribution of an order's lines to sales_by_category, given the order's row."""
    if not _counts_for_sales(order):
        return {}
    out: dict[Key, Group] = {}
    for line in lines:
        for key, group in _line_sales(state, line, order).items():
            seen = out.get(key)
            out[key] = group if seen is None else Group(key, group.labels, tuple(
                a + b for a, b in zip(seen.measures, group.measures, strict=True)))
    return out


def _line_sales(state: BatchState, line: LineRow | None, order: OrderRow | None = None) -> dict[Key, Group]:
    """A line's contribution to sales_by_category, if its order (not cancelled), product and category exist
    (`order`: the order's row, when the caller has it)."""
    if line is None:
        return {}
    if order is None:
        order = state.get(ORDERS, line.order_id)
    if not _counts_for_sales(order):
        return {}
    product = state.get(PRODUCTS, line.product_id)
    if product is None:
        return {}
    category = state.get(CATEGORIES, product.category_id)
    if category is None:
        return {}
    key = (category.category_id,)
    return {key: Group(key, (category.name,), (int(line.quantity), Decimal(line.total_price), 1))}


def line_sales_deltas(state: BatchState, old: LineRow | None, new: LineRow | None) -> list[Delta]:
    return diff(_line_sales(state, old), _line_sales(state, new))


def _user_activity(user: UserRow | None, orders: Sequence[OrderRow]) -> dict[Key, Group]:
    """A user's orders' contribution to user_activity, given the user's row."""
    if user is None:
        return {}
    out: dict[Key, Group] = {}
    for order in orders:
        key = (order.user_id, order.status)
        seen = out.get(key)
        count, total = ((1, Decimal(order.total_amount)) if seen is None
                        else (seen.measures[0] + 1, seen.measures[1] + order.total_amount))
        out[key] = Group(key, (user.first_name, user.last_name), (count, total))
    return out


def user_activity_deltas(state: BatchState, old: UserRow | None, new: UserRow | None) -> list[Delta] | None:
    """A user that appears or disappears brings or takes all its orders (from the cache if all known)."""
    orders = state.children_of(ORDERS, "user_id", _either(old, new).user_id)
    if orders is None:
        return None
    return diff(_user_activity(old, orders), _user_activity(new, orders))


def _product_sales(state: BatchState, product: ProductRow | None, lines: Sequence[LineRow]) -> dict[Key, Group]:
    """A product's lines' contribution to sales_by_category, given the product's row."""
    if product is None:
        return {}
    category: CategoryRow | None = state.get(CATEGORIES, product.category_id)
    if category is None:
        return {}
    key = (category.category_id,)
    quantity, total, count = 0, Decimal(0), 0
    for line in lines:
        if _counts_for_sales(state.get(ORDERS, line.order_id)):
            quantity, total, count = quantity + int(line.quantity), total + Decimal(line.total_price), count + 1
    return {key: Group(key, (category.name,), (quantity, total, count))} if count else {}


def product_sales_deltas(state: BatchState, old: ProductRow | None, new: ProductRow | None) -> list[Delta] | None:
    """A product that appears, disappears or changes category moves all its lines (from the cache if all known)."""
    lines = state.children_of(LINES, "product_id", _either(old, new).product_id)
    if lines is None:
        return None
    return diff(_product_sales(state, old, lines), _product_sales(state, new, lines))


# (table, mart) -> deltas computed from cached rows (old, new: the table's named rows), or None: use
# the scoped SQL instead.
PYTHON_SCOPES: dict[tuple[str, str], Callable[[BatchState, Any, Any], list[Delta] | None]] = {
    (ORDERS.source, "user_activity"): order_activity_deltas,
    (ORDERS.source, "sales_by_category"): order_sales_deltas,
    (LINES.source, "sales_by_category"): line_sales_deltas,
    (USERS.source, "user_activity"): user_activity_deltas,
    (PRODUCTS.source, "sales_by_category"): product_sales_deltas,
}
