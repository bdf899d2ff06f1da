"""The mart definitions evaluated in Python over in-memory rows (the tests' and benchmark's oracle).

Rows are tuples in the state tables' column order (marts.tables), per
source table keyed by primary key. Output rows have the columns of
marts.verify's definitions, so they compare with core.verify.compare.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marts.tables import Row

Rows = Mapping[int, Row]


def user_activity(users: Rows, orders: Rows) -> list[tuple[Any, ...]]:
    totals: dict[tuple[int, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for _, user_id, status, amount in orders.values():
        if user_id in users:
            total = totals[(user_id, status)]
            total[0] += 1
            total[1] += amount
    return [(user_id, status, users[user_id][1], users[user_id][2], count, amount)
            for (user_id, status), (count, amount) in totals.items()]


def sales_by_category(categories: Rows, products: Rows, orders: Rows, lines: Rows) -> list[tuple[Any, ...]]:
    totals: dict[int, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for _, order_id, product_id, quantity, price in lines.values():
        order, product = orders.get(order_id), products.get(product_id)
        if order is None or product is None or order[2] == "cancelled" or product[1] not in categories:
            continue
        total = totals[product[1]]
        total[0] += quantity
        total[1] += price
    return [(category_id, categories[category_id][1], quantity, sales)
            for category_id, (quantity, sales) in totals.items()]
