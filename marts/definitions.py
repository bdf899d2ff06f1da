"""The marts' definitions: each mart's columns, its defining SQL on the source, and the same on the state.

A mart row is a group: key columns, label columns (names, not aggregated)
and additive measures. `source_sql` is the definition as stated on the
PostgreSQL source (what `cdc verify` compares with, what a recompute runs);
`state_query` is the same aggregation over the marts' narrow state tables
in MySQL (marts.state_tables): scoped to the groups one changed row takes part in
it gives that row's contributions (marts.apply.row_deltas); unscoped, the whole mart
(`fill_sql`, a bulk initialisation). The schema (marts.schema),
the delta logic, the verifier (marts.verify) and the benchmark take the
marts from here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core.marts_tables import SALES_BY_CATEGORY_TABLE, USER_ACTIVITY_TABLE
from marts.state_tables import CATEGORIES, LINES, ORDERS, PRODUCTS, USERS

CANCELLED = "cancelled"  # an order of this status counts for no sales

ID = "BIGINT NOT NULL"
NAME = "LONGTEXT NOT NULL"  # as in the state tables (the mart tables' collation is utf8mb4_bin)
COUNT = "BIGINT NOT NULL"
MONEY_SUM = "DECIMAL(20,2) NOT NULL"


@dataclass(frozen=True)
class MartSpec:
    """One mart table: its columns by role with their SQL types, and its defining queries."""

    name: str
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    measures: tuple[str, ...]
    count: str  # the measure that is zero exactly when the group is empty
    sql_types: Mapping[str, str]  # of every column; BIGINT measures are int in Python, the others Decimal
    source_sql: str  # on PostgreSQL: keys, labels, then the defined measures (all but `helpers`)
    # The same on the state tables (keys, labels, measures): SELECT state_select FROM state_from
    # WHERE state_where GROUP BY state_group_by.
    state_select: str
    state_from: str
    state_group_by: str
    state_where: str = ""
    helpers: tuple[str, ...] = ()  # measures kept for the delta logic, not part of the definition

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys + self.labels + self.measures

    @property
    def defined_columns(self) -> tuple[str, ...]:
        """The columns of the definition (what the verifier compares)."""
        return tuple(name for name in self.columns if name not in self.helpers)

    def state_query(self, scope: str | None = None, more_columns: tuple[str, ...] = ()) -> str:
        """The groups `scope` (a WHERE condition; None: every group) selects, `more_columns` appended."""
        conditions = " AND ".join(condition for condition in (self.state_where, scope) if condition)
        return (f"SELECT {', '.join((self.state_select, *more_columns))} FROM {self.state_from}"
                + (f" WHERE {conditions}" if conditions else "") + f" GROUP BY {self.state_group_by}")

    def fill_sql(self) -> str:
        """Fills the (empty) mart with every group of the state tables."""
        return (f"INSERT INTO {self.name} ({', '.join(self.columns)}, updated_at) "
                + self.state_query(more_columns=("UTC_TIMESTAMP(6)",)))


USER_ACTIVITY = MartSpec(
    name=USER_ACTIVITY_TABLE,
    keys=("user_id", "status"),
    labels=("first_name", "last_name"),
    measures=("order_count", "total_spent"),
    count="order_count",
    sql_types=MappingProxyType({
        "user_id": ID, "status": "VARCHAR(32) NOT NULL", "first_name": NAME, "last_name": NAME,
        "order_count": COUNT, "total_spent": MONEY_SUM,
    }),
    source_sql=(
        "SELECT u.user_id, o.status, u.first_name, u.last_name, COUNT(*) AS order_count,"
        " SUM(o.total_amount) AS total_spent"
        " FROM users u JOIN orders o ON o.user_id = u.user_id"
        " GROUP BY u.user_id, u.first_name, u.last_name, o.status"
    ),
    state_select="o.user_id, o.status, u.first_name, u.last_name, COUNT(*), SUM(o.total_amount)",
    state_from=f"{ORDERS.name} o JOIN {USERS.name} u ON u.user_id = o.user_id",
    state_group_by="o.user_id, o.status, u.first_name, u.last_name",
)
SALES_BY_CATEGORY = MartSpec(
    name=SALES_BY_CATEGORY_TABLE,
    keys=("category_id",),
    labels=("name",),
    measures=("total_quantity_sold", "total_sales", "line_count"),
    count="line_count",
    sql_types=MappingProxyType({
        "category_id": ID, "name": NAME,
        "total_quantity_sold": COUNT, "total_sales": MONEY_SUM, "line_count": COUNT,
    }),
    source_sql=(
        "SELECT c.category_id, c.name, SUM(od.quantity) AS total_quantity_sold, SUM(od.total_price) AS total_sales"
        " FROM product_categories c"
        " JOIN products p ON p.category_id = c.category_id"
        " JOIN order_details od ON od.product_id = p.product_id"
        " JOIN orders o ON o.order_id = od.order_id"
        f" WHERE o.status <> '{CANCELLED}'"
        " GROUP BY c.category_id, c.name"
    ),
    state_select="c.category_id, c.name, SUM(l.quantity), SUM(l.total_price), COUNT(*)",
    state_from=(f"{LINES.name} l"
                f" JOIN {ORDERS.name} o ON o.order_id = l.order_id"
                f" JOIN {PRODUCTS.name} p ON p.product_id = l.product_id"
                f" JOIN {CATEGORIES.name} c ON c.category_id = p.category_id"),
    state_where=f"o.status <> '{CANCELLED}'",
    state_group_by="c.category_id, c.name",
    # line_count says when a group is empty without relying on quantities being positive.
    helpers=("line_count",),
)
MARTS = (USER_ACTIVITY, SALES_BY_CATEGORY)
