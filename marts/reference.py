"""The mart definitions evaluated in Python over in-memory rows (the tests' and benchmark's oracle).

Rows are tuples in the state tables' column order (marts.state_tables), per
source table keyed by primary key. Output rows have the columns of the
definitions (marts.definitions), so they compare with core.verify.compare.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marts.definitions import CANCELLED
from marts.state_tables import CATEGORIES, LINES, ORDERS, PRODUCTS, USERS, Row

Rows = Mapping[int, Row]


def user_activity(users: Rows, orders: Rows) -> list[tuple[Any, ...]]:
    totals: dict[tuple[int, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for order in map(ORDERS.row, orders.values()):
        if order.user_id in users:
            total = totals[(order.user_id, order.status)]
            total[0] += 1
            total[1] += order.total_amount
    named = {user_id: USERS.row(row) for user_id, row in users.items()}
    return [(user_id, status, named[user_id].first_name, named[user_id].last_name, count, amount)
            for (user_id, status), (count, amount) in totals.items()]


def sales_by_category(categories: Rows, products: Rows, orders: Rows, lines: Rows) -> list[tuple[Any, ...]]:
    totals: dict[int, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for line in map(LINES.row, lines.values()):
        order, product = orders.get(line.order_id), products.get(line.product_id)
        if order is None or product is None or ORDERS.row(order).status == CANCELLED:
            continue
        category_id = PRODUCTS.row(product).category_id
        if category_id not in categories:
            continue
        total = totals[category_id]
        total[0] += line.quantity
        total[1] += line.total_price
    return [(category_id, CATEGORIES.row(categories[category_id]).name, quantity, sales)
            for category_id, (quantity, sales) in totals.items()]
