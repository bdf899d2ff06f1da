"""What the marts keep of each source table: a narrow state table in MySQL.

Only the columns the mart definitions read are kept. Each state table says
which of its columns are mere labels (names copied into mart rows; a change
of only those relabels mart rows instead of recomputing contributions) and,
per mart, the WHERE fragment that scopes the mart's contribution query to
the groups one of its rows takes part in (see marts.apply.row_deltas). Every scope
joins the changed row itself, so a row absent from the state contributes
nothing (marts.apply.row_change skips the query then).

Each state table has a named row type (a NamedTuple in the table's column
order): the store reads and keeps its rows as those, so code says
`order.status`, not `order[2]`. Decoded events still carry plain tuples in
the same order (StateTable.row names them).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar

from core.source.tables import SOURCE_TABLES

Row = tuple[Any, ...]
R = TypeVar("R", bound=Row)


class UserRow(NamedTuple):
    user_id: int
    first_name: str
    last_name: str


class CategoryRow(NamedTuple):
    category_id: int
    name: str


class ProductRow(NamedTuple):
    product_id: int
    category_id: int


class OrderRow(NamedTuple):
    order_id: int
    user_id: int
    status: str
    total_amount: Decimal


class LineRow(NamedTuple):
    order_detail_id: int
    order_id: int
    product_id: int
    quantity: int
    total_price: Decimal


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "id", "int", "text", "decimal"
    sql_type: str


@dataclass(frozen=True)
class StateTable(Generic[R]):
    row_type: Callable[..., R]  # the named row, fields in the order of `columns`
    source: str  # the PostgreSQL table
    name: str  # the MySQL state table
    columns: tuple[Column, ...]  # the first is the primary key
    labels: tuple[str, ...] = ()  # columns that only name mart rows
    scopes: tuple[tuple[str, str], ...] = ()  # (mart name, WHERE fragment with one %s: this key)
    indexes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.column_names == getattr(self.row_type, "_fields", None), f"{self.name}: columns vs row type"

    def row(self, values: Iterable[Any]) -> R:
        """`values` in column order, as this table's named row."""
        return self.row_type(*values)

    @staticmethod
    def key_of(row: Row) -> Any:
        """The row's primary key (its first column)."""
        return row[0]

    @property
    def key(self) -> str:
        return self.columns[0].name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def label_only(self, old: Row, new: Row) -> bool:
        """Both rows exist and differ in label columns only."""
        changed = {name for name, a, b in zip(self.column_names, old, new, strict=True) if a != b}
        return bool(changed) and changed <= set(self.labels)


ID = "BIGINT NOT NULL"
# LONGTEXT, not TEXT: a PostgreSQL text holds up to 1 GB, and a name over TEXT's 64 KiB would be refused.
NAME = "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
STATUS = "VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
MONEY = "DECIMAL(14,2) NOT NULL"

USERS = StateTable(
    UserRow, "users", "mart_state_users",
    (Column("user_id", "id", ID), Column("first_name", "text", NAME), Column("last_name", "text", NAME)),
    labels=("first_name", "last_name"),
    scopes=(("user_activity", "o.user_id = %s"),),
)
CATEGORIES = StateTable(
    CategoryRow, "product_categories", "mart_state_categories",
    (Column("category_id", "id", ID), Column("name", "text", NAME)),
    labels=("name",),
    scopes=(("sales_by_category", "p.category_id = %s"),),
)
PRODUCTS = StateTable(
    ProductRow, "products", "mart_state_products",
    (Column("product_id", "id", ID), Column("category_id", "id", ID)),
    scopes=(("sales_by_category", "p.product_id = %s"),),
    indexes=("category_id",),
)
ORDERS = StateTable(
    OrderRow, "orders", "mart_state_orders",
    (Column("order_id", "id", ID), Column("user_id", "id", ID), Column("status", "text", STATUS),
     Column("total_amount", "decimal", MONEY)),
    scopes=(("user_activity", "o.order_id = %s"), ("sales_by_category", "l.order_id = %s"),),
    indexes=("user_id",),
)
LINES = StateTable(
    LineRow, "order_details", "mart_state_lines",
    (Column("order_detail_id", "id", ID), Column("order_id", "id", ID), Column("product_id", "id", ID),
     Column("quantity", "int", "BIGINT NOT NULL"), Column("total_price", "decimal", MONEY)),
    scopes=(("sales_by_category", "l.order_detail_id = %s"),),
    indexes=("order_id", "product_id"),
)

STATE_TABLES: Mapping[str, StateTable[Any]] = MappingProxyType(
    {table.source: table for table in (USERS, CATEGORIES, PRODUCTS, ORDERS, LINES)}
)
assert set(STATE_TABLES) == set(SOURCE_TABLES)
