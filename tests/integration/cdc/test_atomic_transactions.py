"""Multi-table source transactions of the shop appear in the replica and the marts whole, or not at all.

Three transactions shaped like the generator's, made large so that their
row changes spread over every partition of several topics: a new order with
2,000 lines, products moved together to another category, the order deleted
(its lines go with it, ON DELETE CASCADE). While the stack's own workers
apply each one, a reader polls MySQL in consistent snapshots; every view it
sees must be the state before the transaction or the state after it. Fails
until the replica and the marts apply whole source transactions (issue 15).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from psycopg2.extras import execute_values

from cdc.consistency.sampling import SnapshotReader, snapshot_reader
from core.settings import MySqlSettings
from tests.support.pipeline import assert_exact, env_of, own_pipeline, seed, source_partitions
from tests.support.source import in_source_transaction

pytestmark = pytest.mark.integration

PARTITIONS = 4
LINES = 2000
CATEGORIES = 4  # of the test's own, fresh (no sales before)
PRODUCTS_PER_CATEGORY = 50  # the move changes 50 products in one transaction
APPLY_TIMEOUT = 180.0  # seconds for the workers to show a transaction's result

State = tuple[tuple[tuple[Any, ...], ...], ...]  # per query, its rows


@dataclass(frozen=True)
class Shop:
    """The test's own user, categories and products (made before the transactions under test)."""

    user_id: int
    categories: tuple[int, ...]
    products: tuple[tuple[int, int, Decimal], ...]  # product_id, category_id, price


@dataclass(frozen=True)
class Observation:
    """What a reader saw while the workers applied one source transaction."""

    before: State
    after: State
    seen: tuple[State, ...]  # distinct, in the order first seen

    @property
    def torn(self) -> list[State]:
        return [state for state in self.seen if state not in (self.before, self.after)]

    def torn_summary(self) -> tuple[int, list[State]]:
        """How many distinct torn views, and the first (a whole 2,000-line state would drown the report)."""
        return len(self.torn), self.torn[:1]


@dataclass(frozen=True)
class View:
    """What a reader looks at: queries read together in one snapshot."""

    queries: tuple[str, ...]

    def read(self, reader: SnapshotReader) -> State:
        return tuple(tuple(rows) for _, rows in reader.read(self.queries))


def order_view(order_id: int) -> View:
    return View((
        f"SELECT COUNT(*), COALESCE(SUM(total_amount), 0) FROM orders WHERE order_id = {order_id}",
        f"SELECT COUNT(*), COALESCE(SUM(total_price), 0) FROM order_details WHERE order_id = {order_id}",
    ))


def marts_view(shop: Shop) -> View:
    categories = ", ".join(map(str, shop.categories))
    return View((
        f"SELECT status, order_count, total_spent FROM user_activity WHERE user_id = {shop.user_id} ORDER BY status",
        f"SELECT category_id, total_sales FROM sales_by_category WHERE category_id IN ({categories})"
        " ORDER BY category_id",
    ))


def category_view(shop: Shop) -> View:
    categories = ", ".join(map(str, shop.categories))
    return View((
        f"SELECT category_id, COUNT(*) FROM products WHERE category_id IN ({categories})"
        " GROUP BY category_id ORDER BY category_id",
    ))


def observe(env: dict[str, str], views: Sequence[View], afters: Sequence[State],
            transaction: Callable[[], None]) -> list[Observation]:
    """Run `transaction` on the source, then poll `views` together until each shows its `after` state."""
    with snapshot_reader(MySqlSettings.from_env(env)) as reader:
        before = [view.read(reader) for view in views]
        transaction()
        seen: list[list[State]] = [[] for _ in views]
        deadline = time.monotonic() + APPLY_TIMEOUT
        while True:
            now = [view.read(reader) for view in views]
            for states, state in zip(seen, now, strict=True):
                if state not in states:
                    states.append(state)
            if list(now) == list(afters):
                break
            assert time.monotonic() < deadline, f"not applied within {APPLY_TIMEOUT:g} s; last seen {now}"
    return [Observation(b, a, tuple(s)) for b, a, s in zip(before, afters, seen, strict=True)]


def make_shop(cur: Any) -> Shop:
    cur.execute("INSERT INTO users (first_name, last_name, email) VALUES ('Atomic', 'Buyer', 'atomic@example.com')"
                " RETURNING user_id")
    (user_id,) = cur.fetchone()
    categories = []
    for number in range(CATEGORIES):
        cur.execute("INSERT INTO product_categories (name) VALUES (%s) RETURNING category_id", (f"Atomic {number}",))
        categories.append(cur.fetchone()[0])
    products = []
    for category in categories:
        for number in range(PRODUCTS_PER_CATEGORY):
            price = Decimal(f"{number + 1}.25")
            cur.execute("INSERT INTO products (name, category_id, price) VALUES (%s, %s, %s) RETURNING product_id",
                        (f"Atomic product {category}-{number}", category, price))
            products.append((cur.fetchone()[0], category, price))
    return Shop(user_id, tuple(categories), tuple(products))


def order_lines(shop: Shop) -> list[tuple[int, int, Decimal]]:
    """LINES lines over the shop's products, round robin: product_id, quantity, total_price."""
    lines = []
    for number in range(LINES):
        product_id, _, price = shop.products[number % len(shop.products)]
        quantity = 1 + number % 3
        lines.append((product_id, quantity, price * quantity))
    return lines


def sales(shop: Shop, lines: Sequence[tuple[int, int, Decimal]],
          category_of: Callable[[int], int]) -> tuple[tuple[Any, ...], ...]:
    """The marts' sales_by_category rows of the shop's categories for `lines`."""
    totals: dict[int, Decimal] = {}
    for product_id, _, total_price in lines:
        totals[category_of(product_id)] = totals.get(category_of(product_id), Decimal(0)) + total_price
    return tuple(sorted(totals.items()))


@dataclass(frozen=True)
class Observed:
    new_order: list[Observation]  # [replica order view, marts view]
    move: list[Observation]  # [replica category view, marts view]
    delete: list[Observation]  # [replica order view, marts view]


@pytest.fixture(scope="module")
def observed() -> Iterator[Observed]:
    with own_pipeline("cdc-atomic-stack-") as folder:
        env = env_of(folder)
        assert set(source_partitions(env).values()) == {PARTITIONS}
        seed(env, "--users", "50", "--categories", "5", "--products", "40", "--orders", "200", "--seed", "23")
        shop: Shop = in_source_transaction(env, make_shop)
        assert_exact(env)
        yield run_transactions(env, shop)


def run_transactions(env: dict[str, str], shop: Shop) -> Observed:
    lines = order_lines(shop)
    total = sum((line[2] for line in lines), Decimal(0))
    home = {product_id: category for product_id, category, _ in shop.products}
    # The order's id is drawn first, so that the reader knows which order to look at before it exists.
    (order_id,) = in_source_transaction(env, lambda cur: cur.execute("SELECT nextval('orders_order_id_seq')") or cur.fetchone())

    def new_order(cur: Any) -> None:
        cur.execute("INSERT INTO orders (order_id, user_id, total_amount) VALUES (%s, %s, %s)",
                    (order_id, shop.user_id, total))
        execute_values(cur, "INSERT INTO order_details (order_id, product_id, quantity, price_per_unit, total_price)"
                            " VALUES %s",
                       [(order_id, product, quantity, price / quantity, price) for product, quantity, price in lines])

    placed = (((1, total),), ((LINES, total),))
    gone = (((0, Decimal(0)),), ((0, Decimal(0)),))
    bought = ((("pending", 1, total),), sales(shop, lines, home.__getitem__))
    first, second = shop.categories[:2]
    moved = {product: (second if category == first else category) for product, category in home.items()}
    new_order_seen = observe(env, [order_view(order_id), marts_view(shop)], [placed, bought],
                             lambda: in_source_transaction(env, new_order))

    def move(cur: Any) -> None:
        cur.execute("UPDATE products SET category_id = %s WHERE category_id = %s", (second, first))

    counts = tuple((category, PRODUCTS_PER_CATEGORY) for category in shop.categories)
    moved_counts = tuple((category, 2 * PRODUCTS_PER_CATEGORY if category == second else count)
                         for category, count in counts if category != first)
    move_seen = observe(env, [category_view(shop), marts_view(shop)],
                        [(moved_counts,), ((("pending", 1, total),), sales(shop, lines, moved.__getitem__))],
                        lambda: in_source_transaction(env, move))

    def delete(cur: Any) -> None:
        cur.execute("DELETE FROM orders WHERE order_id = %s", (order_id,))

    delete_seen = observe(env, [order_view(order_id), marts_view(shop)], [gone, ((), ())],
                          lambda: in_source_transaction(env, delete))
    return Observed(new_order_seen, move_seen, delete_seen)


def test_a_new_order_with_2000_lines_appears_in_the_replica_whole(observed: Observed) -> None:
    assert observed.new_order[0].torn_summary() == (0, [])


def test_a_new_order_with_2000_lines_appears_in_the_marts_whole(observed: Observed) -> None:
    assert observed.new_order[1].torn_summary() == (0, [])


def test_products_moved_together_change_category_together_in_the_replica(observed: Observed) -> None:
    assert observed.move[0].torn_summary() == (0, [])


def test_products_moved_together_move_their_sales_together_in_the_marts(observed: Observed) -> None:
    assert observed.move[1].torn_summary() == (0, [])


def test_a_deleted_order_leaves_the_replica_with_all_its_lines_at_once(observed: Observed) -> None:
    assert observed.delete[0].torn_summary() == (0, [])


def test_a_deleted_order_leaves_the_marts_with_all_its_sales_at_once(observed: Observed) -> None:
    assert observed.delete[1].torn_summary() == (0, [])
