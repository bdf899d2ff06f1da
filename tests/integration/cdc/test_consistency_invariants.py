"""The invariant queries of `cdc verify --consistency` on a real MariaDB: each names what breaks it, nothing else.

Tables of their own (only the columns the invariants read) in a database of
the test's own on the stack's MariaDB, so the queries are checked apart
from any worker.
"""
from __future__ import annotations

from collections.abc import Iterator

import pymysql
import pytest

from cdc.consistency.invariants import INVARIANTS, MARTS_BALANCE, ORDER_TOTALS, REFERENCES, Invariant
from cdc.consistency.sampling import snapshot_reader, take_sample
from core.settings import MySqlSettings
from tests.support.replica import private_replica

pytestmark = pytest.mark.integration

TABLES = (
    "CREATE TABLE users (user_id BIGINT PRIMARY KEY)",
    "CREATE TABLE product_categories (category_id BIGINT PRIMARY KEY, parent_category_id BIGINT NULL)",
    "CREATE TABLE products (product_id BIGINT PRIMARY KEY, category_id BIGINT NOT NULL)",
    "CREATE TABLE orders (order_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, total_amount DECIMAL(12,2) NOT NULL)",
    "CREATE TABLE order_details (order_detail_id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL,"
    " product_id BIGINT NOT NULL, total_price DECIMAL(12,2) NOT NULL)",
    "CREATE TABLE user_activity (user_id BIGINT, status VARCHAR(32), total_spent DECIMAL(20,2),"
    " PRIMARY KEY (user_id, status))",
    "CREATE TABLE sales_by_category (category_id BIGINT PRIMARY KEY, total_sales DECIMAL(20,2))",
)
# A consistent shop: two categories (one the other's child), a product in each, one user with a pending order
# of two lines (5.00) and a cancelled order of one line (4.00); the marts to match.
CONSISTENT = (
    "INSERT INTO users VALUES (1)",
    "INSERT INTO product_categories VALUES (1, NULL), (2, 1)",
    "INSERT INTO products VALUES (1, 1), (2, 2)",
    "INSERT INTO orders VALUES (10, 1, 5.00), (11, 1, 4.00)",
    "INSERT INTO order_details VALUES (100, 10, 1, 2.00), (101, 10, 2, 3.00), (102, 11, 1, 4.00)",
    "INSERT INTO user_activity VALUES (1, 'pending', 5.00), (1, 'cancelled', 4.00)",
    "INSERT INTO sales_by_category VALUES (1, 2.00), (2, 3.00)",
)


@pytest.fixture
def shop(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Env whose MYSQL_URL is a database of its own holding the consistent shop."""
    with private_replica(stack_env) as env:
        run(env, *TABLES, *CONSISTENT)
        yield env


def run(env: dict[str, str], *statements: str) -> None:
    conn = pymysql.connect(**MySqlSettings.from_env(env).connect_kwargs(), autocommit=True)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def violations(env: dict[str, str], invariant: Invariant) -> tuple[str, ...]:
    """The offending rows `invariant` names in one snapshot of the database."""
    with snapshot_reader(MySqlSettings.from_env(env)) as reader:
        (found,) = take_sample(reader, (invariant,), 0.0).findings
    return found.examples


def test_a_consistent_shop_breaks_no_invariant(shop: dict[str, str]) -> None:
    with snapshot_reader(MySqlSettings.from_env(shop)) as reader:
        sample = take_sample(reader, INVARIANTS, 0.0)

    assert [(found.invariant, found.violations) for found in sample.findings] == [
        ("order_totals", 0), ("marts_balance", 0), ("references", 0)]


def test_an_order_whose_lines_do_not_add_up_to_its_total_is_named(shop: dict[str, str]) -> None:
    run(shop, "DELETE FROM order_details WHERE order_detail_id = 101")

    assert violations(shop, ORDER_TOTALS) == ("order_id=10, total_amount=5.00, lines_total=2.00",)


def test_an_order_without_lines_is_named_unless_its_total_is_zero(shop: dict[str, str]) -> None:
    run(shop, "INSERT INTO orders VALUES (12, 1, 0.00), (13, 1, 1.00)")

    assert violations(shop, ORDER_TOTALS) == ("order_id=13, total_amount=1.00, lines_total=0.00",)


def test_spending_that_differs_from_sales_breaks_the_marts_balance(shop: dict[str, str]) -> None:
    run(shop, "UPDATE sales_by_category SET total_sales = 2.50 WHERE category_id = 2")

    assert violations(shop, MARTS_BALANCE) == ("view=all, total_spent=5.00, total_sales=4.50",)


def test_spending_on_cancelled_orders_is_not_part_of_the_marts_balance(shop: dict[str, str]) -> None:
    run(shop, "UPDATE user_activity SET total_spent = 99.00 WHERE status = 'cancelled'")

    assert violations(shop, MARTS_BALANCE) == ()


@pytest.mark.parametrize(("statement", "named"), [
    ("INSERT INTO order_details VALUES (103, 99, 1, 0.00)", "row_id=order_details.103, reference=order_id, missing=99"),
    ("INSERT INTO order_details VALUES (103, 10, 99, 0.00)",
     "row_id=order_details.103, reference=product_id, missing=99"),
    ("INSERT INTO orders VALUES (12, 99, 0.00)", "row_id=orders.12, reference=user_id, missing=99"),
    ("INSERT INTO products VALUES (3, 99)", "row_id=products.3, reference=category_id, missing=99"),
    ("INSERT INTO product_categories VALUES (3, 99)",
     "row_id=product_categories.3, reference=parent_category_id, missing=99"),
])
def test_a_reference_to_a_missing_row_is_named(shop: dict[str, str], statement: str, named: str) -> None:
    run(shop, statement)

    assert violations(shop, REFERENCES) == (named,)
