"""A seed plan's rows: a category tree, orders that add up, timestamps from the seed."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from generator import dataset
from generator.dataset import FirstIds, SeedPlan
from generator.errors import GeneratorError
from generator.model import LineRow, OrderRow, Timeline

PLAN = SeedPlan(users=50, categories=20, products=30, orders=400, seed=3)
TIMELINE = Timeline.for_seed(PLAN.seed)


def registered_users() -> tuple[tuple[int, datetime], ...]:
    return tuple((u.user_id, u.registration_date) for u in dataset.user_rows(PLAN, TIMELINE, 1))


def priced_products() -> tuple[tuple[int, Decimal], ...]:
    return tuple((p.product_id, p.price) for p in dataset.product_rows(PLAN, TIMELINE, 1, (1, 2, 3)))


def orders() -> list[tuple[OrderRow, list[LineRow]]]:
    return list(dataset.order_rows(PLAN, TIMELINE, FirstIds(), registered_users(), priced_products()))


def test_the_default_plan_is_1000_users_20_categories_500_products_5000_orders() -> None:
    assert SeedPlan() == SeedPlan(users=1000, categories=20, products=500, orders=5000, seed=1)


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(GeneratorError, match="--orders must be 0 or more"):
        SeedPlan(orders=-1)


def test_a_quarter_of_the_categories_are_roots_and_the_rest_hang_below_earlier_ones() -> None:
    rows = dataset.category_rows(PLAN, first_id=1)
    assert [row.category_id for row in rows] == list(range(1, 21))
    assert [row.parent_category_id for row in rows[:5]] == [None] * 5
    assert all(row.parent_category_id is not None and row.parent_category_id < row.category_id for row in rows[5:])


def test_the_category_tree_is_at_most_three_levels_deep() -> None:
    rows = dataset.category_rows(SeedPlan(categories=200), first_id=1)
    parent = {row.category_id: row.parent_category_id for row in rows}

    def depth(category_id: int | None) -> int:
        return 0 if category_id is None else 1 + depth(parent[category_id])

    assert max(depth(row.category_id) for row in rows) == 3


def test_categories_start_at_the_given_id_for_an_append() -> None:
    rows = dataset.category_rows(SeedPlan(categories=8), first_id=41)
    assert [row.category_id for row in rows] == list(range(41, 49))
    assert {row.parent_category_id for row in rows} - {None} <= set(range(41, 49))


def test_users_are_the_same_whatever_the_other_counts() -> None:
    other_plan = SeedPlan(users=50, categories=3, products=1, orders=7, seed=3)
    assert list(dataset.user_rows(PLAN, TIMELINE, 1)) == list(dataset.user_rows(other_plan, TIMELINE, 1))


def test_products_exist_before_the_shop_opens_and_use_the_given_categories() -> None:
    products = list(dataset.product_rows(PLAN, TIMELINE, 1, (7, 8)))
    assert {p.category_id for p in products} == {7, 8}
    assert all(p.creation_date < TIMELINE.start for p in products)


def test_products_without_categories_are_refused() -> None:
    with pytest.raises(GeneratorError, match="--categories"):
        list(dataset.product_rows(PLAN, TIMELINE, 1, ()))


def test_orders_without_users_or_products_are_refused() -> None:
    with pytest.raises(GeneratorError, match="--users and --products"):
        list(dataset.order_rows(PLAN, TIMELINE, FirstIds(), (), priced_products()))


def test_each_order_totals_its_one_to_five_lines_of_distinct_products() -> None:
    for order, lines in orders():
        assert 1 <= len(lines) <= 5
        assert len({line.product_id for line in lines}) == len(lines)
        assert all(line.order_id == order.order_id for line in lines)
        assert order.total_amount == sum(line.total_price for line in lines)


def test_line_ids_run_consecutively_across_orders() -> None:
    line_ids = [line.order_detail_id for _, lines in orders() for line in lines]
    assert line_ids == list(range(1, len(line_ids) + 1))


def test_lines_are_priced_at_the_products_price() -> None:
    price = dict(priced_products())
    assert all(line.price_per_unit == price[line.product_id] for _, lines in orders() for line in lines)


def test_orders_are_placed_after_their_user_registered_within_the_timeline_in_utc() -> None:
    registered = dict(registered_users())
    for order, _ in orders():
        assert registered[order.user_id] <= order.order_date < TIMELINE.end
        assert order.order_date.tzinfo is UTC


def test_the_same_plan_gives_the_same_orders() -> None:
    assert orders() == orders()
