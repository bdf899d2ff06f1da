"""Row builders are deterministic per seed; money is exact Decimal arithmetic."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from generator import model
from generator.model import Randomness, Timeline

MOMENT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def users(seed: int, count: int = 20) -> list[model.UserRow]:
    rand = Randomness.stream(seed, "users")
    return [model.build_user(user_id, rand, MOMENT) for user_id in range(1, count + 1)]


def test_the_same_seed_builds_the_same_users_value_for_value() -> None:
    assert users(42) == users(42)


def test_another_seed_builds_other_users() -> None:
    assert [u.email for u in users(42)] != [u.email for u in users(43)]


def test_a_stream_does_not_read_or_change_the_global_random_state() -> None:
    random.seed(0)
    expected = random.random()
    random.seed(0)
    users(1)
    assert random.random() == expected


def test_named_streams_of_one_seed_are_independent() -> None:
    assert Randomness.stream(1, "users").rng.random() != Randomness.stream(1, "orders").rng.random()


def test_emails_are_unique_by_the_user_id_and_plain_ascii() -> None:
    assert model.email_for(7, "Zoë", "O'Brien-Smith", "example.org") == "zo.obriensmith.7@example.org"
    assert model.email_for(8, "", "", "example.org") == "user.8@example.org"
    emails = [u.email for u in users(3, 500)]
    assert len(set(emails)) == 500


def test_products_cost_between_1_99_and_999_99_with_two_decimal_places() -> None:
    rand = Randomness.stream(5, "products")
    prices = [model.build_product(i, 1, rand, MOMENT).price for i in range(1, 2001)]
    assert min(prices) >= Decimal("1.99")
    assert max(prices) <= Decimal("999.99")
    assert {price.as_tuple().exponent for price in prices} == {-2}


def test_a_line_total_is_quantity_times_unit_price_exactly() -> None:
    assert model.line_total(3, Decimal("19.99")) == Decimal("59.97")
    assert model.line_total(5, Decimal("0.10")) == Decimal("0.50")


def test_an_order_total_is_the_exact_sum_of_its_lines() -> None:
    # As floats 0.1 + 0.2 != 0.3; as numeric(12,2) it must be exactly 0.30.
    assert model.order_total([Decimal("0.10"), Decimal("0.20")]) == Decimal("0.30")
    assert model.order_total([Decimal("999.99")] * 5) == Decimal("4999.95")


def test_an_order_without_lines_totals_zero() -> None:
    assert model.order_total([]) == Decimal("0.00")


def test_money_rounds_half_even_to_cents_like_numeric_12_2() -> None:
    assert model.money(Decimal("1.005")) == Decimal("1.00")
    assert model.money(Decimal("1.015")) == Decimal("1.02")
    assert str(model.money(3)) == "3.00"


def test_build_lines_takes_the_given_ids_and_totals_each_line() -> None:
    lines = model.build_lines(9, [100, 101], [(1, Decimal("2.50")), (2, Decimal("10.00"))], random.Random(1))
    assert [(line.order_detail_id, line.order_id, line.product_id) for line in lines] == [(100, 9, 1), (101, 9, 2)]
    for line in lines:
        assert 1 <= line.quantity <= model.MAX_QUANTITY
        assert line.total_price == line.price_per_unit * line.quantity


@pytest.mark.parametrize("price", [Decimal("0.01"), Decimal("0.05"), Decimal("19.99"), Decimal("999.99")])
def test_a_repriced_product_gets_another_positive_price_within_minus_20_to_plus_25_percent(price: Decimal) -> None:
    rng = random.Random(4)
    for _ in range(200):
        new = model.repriced(price, rng)
        assert new != price
        assert new >= Decimal("0.01")
        assert new <= max(price * Decimal("1.25"), Decimal("0.02")) + Decimal("0.01")


def test_a_price_repriced_for_years_stays_within_a_cent_and_the_maximum() -> None:
    rng = random.Random(8)
    price = Decimal("999.99")
    seen = []
    for _ in range(20_000):
        price = model.repriced(price, rng)
        seen.append(price)
    assert Decimal("0.01") <= min(seen) and max(seen) <= model.MAX_PRICE


def test_the_maximum_price_is_repriced_below_it() -> None:
    rng = random.Random(2)
    assert all(model.repriced(model.MAX_PRICE, rng) < model.MAX_PRICE for _ in range(200))


def test_the_largest_possible_order_fits_numeric_12_2() -> None:
    line = model.line_total(model.MAX_QUANTITY, model.MAX_PRICE)
    assert model.order_total([line] * model.MAX_LINES_PER_ORDER) < Decimal("9999999999.99")


def test_another_quantity_differs_from_the_current_one_and_stays_in_range() -> None:
    rng = random.Random(2)
    for current in range(1, model.MAX_QUANTITY + 1):
        seen = {model.other_quantity(current, rng) for _ in range(200)}
        assert seen == set(range(1, model.MAX_QUANTITY + 1)) - {current}


def test_pick_distinct_returns_distinct_indexes_capped_by_the_pool() -> None:
    rng = random.Random(3)
    assert sorted(model.pick_distinct(rng, [10, 20], 5)) == [0, 1]
    picked = model.pick_distinct(rng, list(range(100)), 5)
    assert len(picked) == len(set(picked)) == 5


def test_the_timeline_comes_from_the_seed_and_is_utc() -> None:
    timeline = Timeline.for_seed(9)
    assert timeline == Timeline.for_seed(9)
    assert timeline.start.tzinfo is UTC
    assert timeline.end - timeline.start == timedelta(days=365)
    assert datetime(2023, 1, 1, tzinfo=UTC) <= timeline.start < datetime(2024, 1, 1, tzinfo=UTC)


def test_a_moment_lies_in_the_timeline_after_the_given_time_in_whole_seconds() -> None:
    timeline = Timeline.for_seed(1)
    after = timeline.start + timedelta(days=300)
    rng = random.Random(5)
    moments = [timeline.moment(rng, after=after) for _ in range(500)]
    assert all(after <= moment < timeline.end and moment.microsecond == 0 for moment in moments)


def test_old_orders_are_settled_and_recent_ones_may_be_open() -> None:
    rng = random.Random(6)
    old = {model.historic_status(timedelta(days=30), rng) for _ in range(500)}
    fresh = {model.historic_status(timedelta(hours=2), rng) for _ in range(500)}
    assert old == {"completed", "cancelled"}
    assert fresh == {"pending", "paid", "shipped", "cancelled"}


def test_only_shipped_and_completed_orders_have_a_delivery_date() -> None:
    rng = random.Random(7)
    for status in ("pending", "paid", "cancelled"):
        assert model.delivery_date_for(status, MOMENT, rng) is None
    shipped = model.delivery_date_for("shipped", MOMENT, rng)
    completed = model.delivery_date_for("completed", MOMENT, rng)
    assert shipped is not None and MOMENT.date() < shipped <= (MOMENT + timedelta(days=5)).date()
    assert completed is not None and MOMENT.date() < completed <= (MOMENT + timedelta(days=7)).date()


def test_weighted_repeats_each_value_by_its_share() -> None:
    assert model.weighted({"a": 2, "b": 1}) == ("a", "a", "b")
