"""What a seed consists of: the rows of the five tables for a plan, generated lazily.

Pure: no database here. The same plan (and the same existing rows, for an
append) always gives the same rows, ids included.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from generator import model
from generator.errors import GeneratorError
from generator.model import CategoryRow, LineRow, OrderRow, ProductRow, Randomness, Timeline, UserRow

MAX_CATEGORY_DEPTH = 3
ROOT_SHARE = 4  # one category in four is a root


@dataclass(frozen=True)
class SeedPlan:
    """How many rows of each kind to add, and the seed that decides them."""

    users: int = 1000
    categories: int = 20
    products: int = 500
    orders: int = 5000
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("users", "categories", "products", "orders"):
            if getattr(self, name) < 0:
                raise GeneratorError(f"--{name} must be 0 or more, got {getattr(self, name)}")

    @property
    def entities(self) -> int:
        """Progress units: every user, category, product and order (with its lines)."""
        return self.users + self.categories + self.products + self.orders


@dataclass(frozen=True)
class FirstIds:
    """The id the first new row of each table gets (1 on an empty database)."""

    user: int = 1
    category: int = 1
    product: int = 1
    order: int = 1
    line: int = 1


@dataclass(frozen=True)
class Existing:
    """Rows already in the database that an appended batch may refer to, and where its ids start."""

    users: tuple[tuple[int, datetime], ...] = ()  # (user_id, registration_date)
    category_ids: tuple[int, ...] = ()
    products: tuple[tuple[int, Decimal], ...] = ()  # (product_id, price)
    first_ids: FirstIds = FirstIds()


def user_rows(plan: SeedPlan, timeline: Timeline, first_id: int) -> Iterator[UserRow]:
    rand = Randomness.stream(plan.seed, "users")
    for user_id in range(first_id, first_id + plan.users):
        yield model.build_user(user_id, rand, timeline.moment(rand.rng))


def category_rows(plan: SeedPlan, first_id: int) -> list[CategoryRow]:
    """A small forest: a quarter are roots, the rest hang below a root or a root's child."""
    rng = Randomness.stream(plan.seed, "categories").rng
    roots = -(-plan.categories // ROOT_SHARE)
    offset = rng.randrange(len(model.DEPARTMENTS))
    rows: list[CategoryRow] = []
    can_parent: list[tuple[CategoryRow, int]] = []  # (row, depth) with depth < MAX_CATEGORY_DEPTH
    for index in range(plan.categories):
        category_id = first_id + index
        if index < roots:
            row, depth = CategoryRow(category_id, model.root_category_name(index + offset), None), 1
        else:
            parent, parent_depth = rng.choice(can_parent)
            name = model.sub_category_name(parent.name, rng)
            row, depth = CategoryRow(category_id, name, parent.category_id), parent_depth + 1
        rows.append(row)
        if depth < MAX_CATEGORY_DEPTH:
            can_parent.append((row, depth))
    return rows


def product_rows(
    plan: SeedPlan, timeline: Timeline, first_id: int, category_ids: tuple[int, ...]
) -> Iterator[ProductRow]:
    """The catalogue exists before the shop opens: created up to 90 days before the timeline."""
    if plan.products and not category_ids:
        raise GeneratorError("products need a category: ask for --categories 1 or more")
    rand = Randomness.stream(plan.seed, "products")
    for product_id in range(first_id, first_id + plan.products):
        created = timeline.start - timedelta(seconds=rand.rng.randrange(1, 90 * 86_400))
        yield model.build_product(product_id, rand.rng.choice(category_ids), rand, created)


def order_rows(
    plan: SeedPlan,
    timeline: Timeline,
    first: FirstIds,
    users: tuple[tuple[int, datetime], ...],
    products: tuple[tuple[int, Decimal], ...],
) -> Iterator[tuple[OrderRow, list[LineRow]]]:
    """Orders with 1-5 lines of distinct products; total_amount is the exact sum of the lines."""
    if plan.orders and not (users and products):
        raise GeneratorError("orders need users and products: ask for --users and --products 1 or more")
    rng = Randomness.stream(plan.seed, "orders").rng
    line_id = first.line
    for order_id in range(first.order, first.order + plan.orders):
        user_id, registered = rng.choice(users)
        ordered_at = timeline.moment(rng, after=registered, skew=0.5)
        picked = [products[i] for i in model.pick_distinct(rng, products, model.line_count(rng))]
        lines = model.build_lines(order_id, range(line_id, line_id + len(picked)), picked, rng)
        line_id += len(lines)
        status = model.historic_status(timeline.end - ordered_at, rng)
        yield OrderRow(
            order_id=order_id,
            user_id=user_id,
            order_date=ordered_at,
            total_amount=model.order_total(line.total_price for line in lines),
            status=status,
            delivery_date=model.delivery_date_for(status, ordered_at, rng),
        ), lines
