"""The invariants a consistent view of the replica and the marts satisfies, one named query each.

Each holds on the source at every transaction boundary of the shop (the
generator's seed and live transactions, and any writer that keeps
orders.total_amount equal to the sum of its lines); a replica or marts that
apply whole source transactions, in order, show them at every MySQL commit.
A sample that breaks one is a torn view: half of a source transaction.

Each query returns one row per violation (none when the invariant holds);
its first column identifies the offending row. The queries read the tables
by the names the replica (core.source.tables) and the marts
(marts.definitions) give them, in the one database of MYSQL_URL.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.source.tables import ORDER_DETAILS, ORDERS, PRODUCT_CATEGORIES, PRODUCTS, USERS
from marts.definitions import CANCELLED, SALES_BY_CATEGORY, USER_ACTIVITY

REPLICA = "replica"
MARTS = "marts"
SCOPES = (REPLICA, MARTS)


@dataclass(frozen=True)
class Invariant:
    name: str
    scope: str  # REPLICA or MARTS: the tables it reads
    statement: str  # what holds, in words (the report's legend)
    sql: str  # one row per violation, the offending row's id first


# An order with no lines is legal in the source schema (the generator never leaves one); its total is 0 then.
# Every order-line transaction of the generator rewrites the order's total from its lines in the same
# transaction, a cascaded delete removes the order and its lines together, and a seeded order's total is
# the sum of its lines. Half of a new order (the order without some of its lines), of an edit (a line's new
# price without the order's new total) or of a delete (the lines gone, the order still there) breaks it.
ORDER_TOTALS = Invariant(
    name="order_totals",
    scope=REPLICA,
    statement="every order's total_amount = the sum of its order_details' total_price (0 without lines)",
    # The lines are summed per order first: the replica has no index on order_details.order_id, and a join
    # before the grouping would compare every order with every line (seconds per sample, not milliseconds).
    sql=(
        f"SELECT o.order_id, o.total_amount, COALESCE(d.lines_total, 0) AS lines_total"
        f" FROM {ORDERS.name} o LEFT JOIN"
        f" (SELECT order_id, SUM(total_price) AS lines_total FROM {ORDER_DETAILS.name} GROUP BY order_id) d"
        f" ON d.order_id = o.order_id"
        f" WHERE o.total_amount <> COALESCE(d.lines_total, 0)"
        f" ORDER BY o.order_id"
    ),
)

# user_activity sums total_amount over every order (each has its user: a NOT NULL foreign key), by status;
# sales_by_category sums total_price over the lines of non-cancelled orders (each line has its product, each
# product its category: NOT NULL foreign keys, so no line falls out of the join). Over the non-cancelled
# orders both are therefore the sum of the same money exactly when ORDER_TOTALS holds in the source, which
# it does at every commit. Torn: the marts counted an order's total but not (all) its lines, or the reverse,
# or a status change in one mart and not the other. It is one number per view: the offender is the view.
MARTS_BALANCE = Invariant(
    name="marts_balance",
    scope=MARTS,
    statement=(f"sum of {USER_ACTIVITY.name}.total_spent over status <> '{CANCELLED}'"
               f" = sum of {SALES_BY_CATEGORY.name}.total_sales"),
    sql=(
        "SELECT 'all' AS view, spent AS total_spent, sales AS total_sales FROM ("
        f"SELECT (SELECT COALESCE(SUM(total_spent), 0) FROM {USER_ACTIVITY.name}"
        f" WHERE status <> '{CANCELLED}') AS spent,"
        f" (SELECT COALESCE(SUM(total_sales), 0) FROM {SALES_BY_CATEGORY.name}) AS sales"
        ") balance WHERE spent <> sales"
    ),
)


@dataclass(frozen=True)
class Reference:
    """A foreign key of the source: `table`.`column` names a row of `parent` by its key `parent_key`."""

    table: str
    key: str  # table's primary key (names the offending row)
    column: str
    parent: str
    parent_key: str

    def dangling_sql(self) -> str:
        """Rows whose reference names no row (NULL references nothing: no violation)."""
        return (
            f"SELECT CONCAT('{self.table}.', t.{self.key}) AS row_id, '{self.column}' AS reference,"
            f" t.{self.column} AS missing"
            f" FROM {self.table} t LEFT JOIN {self.parent} p ON p.{self.parent_key} = t.{self.column}"
            f" WHERE t.{self.column} IS NOT NULL AND p.{self.parent_key} IS NULL"
        )


# Every foreign key of the source (core/source/migrations), checked at each statement's end, so each
# holds at every commit.
FOREIGN_KEYS = (
    Reference(ORDER_DETAILS.name, "order_detail_id", "order_id", ORDERS.name, "order_id"),  # ON DELETE CASCADE
    Reference(ORDER_DETAILS.name, "order_detail_id", "product_id", PRODUCTS.name, "product_id"),
    Reference(ORDERS.name, "order_id", "user_id", USERS.name, "user_id"),
    Reference(PRODUCTS.name, "product_id", "category_id", PRODUCT_CATEGORIES.name, "category_id"),
    Reference(PRODUCT_CATEGORIES.name, "category_id", "parent_category_id", PRODUCT_CATEGORIES.name, "category_id"),
)

# Torn: a new order's lines before their order, a new product's order line before the product, a deleted
# order gone while its cascaded lines are still there.
REFERENCES = Invariant(
    name="references",
    scope=REPLICA,
    statement="every reference between the five tables names an existing row (the source's foreign keys)",
    sql=" UNION ALL ".join(reference.dangling_sql() for reference in FOREIGN_KEYS) + " ORDER BY 1",
)

INVARIANTS = (ORDER_TOTALS, MARTS_BALANCE, REFERENCES)


def selected(scope: str) -> tuple[Invariant, ...]:
    """The invariants of `scope` ("all", REPLICA or MARTS)."""
    return tuple(invariant for invariant in INVARIANTS if scope in ("all", invariant.scope))
