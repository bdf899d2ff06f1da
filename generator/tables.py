"""The five shop tables as the generator sees them: name, primary key, columns."""
from __future__ import annotations

from dataclasses import dataclass

from generator.model import CategoryRow, LineRow, OrderRow, ProductRow, UserRow


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: tuple[str, ...]

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)


USERS = Table("users", "user_id", UserRow._fields)
CATEGORIES = Table("product_categories", "category_id", CategoryRow._fields)
PRODUCTS = Table("products", "product_id", ProductRow._fields)
ORDERS = Table("orders", "order_id", OrderRow._fields)
LINES = Table("order_details", "order_detail_id", LineRow._fields)

# Parents before children: the order in which rows can be loaded.
ALL_TABLES = (USERS, CATEGORIES, PRODUCTS, ORDERS, LINES)
