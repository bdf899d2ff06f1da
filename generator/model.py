"""Deterministic fake rows of the five shop tables, and the money arithmetic.

Every builder takes its randomness as an argument (a :class:`Randomness`,
seeded per stream) and never touches the global ``random`` state, so the same
seed always yields the same rows, value for value. Rows are ``NamedTuple``s:
immutable, typed, and in column order, ready for COPY or INSERT.
"""
from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cached_property
from typing import NamedTuple, TypeVar

from faker import Faker

T = TypeVar("T")

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def weighted(shares: Mapping[T, int]) -> tuple[T, ...]:
    """Each value repeated by its share: rng.choice over it is a fast weighted choice."""
    return tuple(value for value, share in shares.items() for _ in range(share))


LOYALTY = weighted({"bronze": 60, "silver": 25, "gold": 10, "platinum": 5})
QUANTITY = weighted({1: 55, 2: 25, 3: 10, 4: 6, 5: 4})
MAX_QUANTITY = max(QUANTITY)
MAX_LINES_PER_ORDER = 5
# The dearest shelf price the generator sets or sells at: an order of five lines of five at this
# price (2,499,999.75) stays far inside numeric(12,2). Products priced above it by hand are never
# put in new orders.
MAX_PRICE = Decimal("99999.99")
STATUS_UNDER_A_DAY = weighted({"pending": 50, "paid": 30, "shipped": 15, "cancelled": 5})
STATUS_UNDER_A_WEEK = weighted({"paid": 10, "shipped": 45, "completed": 40, "cancelled": 5})
STATUS_OLDER = weighted({"completed": 93, "cancelled": 7})

DEPARTMENTS = (
    "Books", "Electronics", "Home", "Garden", "Toys", "Sports", "Fashion",
    "Beauty", "Grocery", "Automotive", "Music", "Office", "Pets", "Health",
)
QUALIFIERS = (
    "Kids", "Outdoor", "Vintage", "Premium", "Travel", "Eco", "Smart",
    "Classic", "Pro", "Mini", "Budget", "Handmade",
)
GOODS = (
    "Lamp", "Chair", "Backpack", "Notebook", "Headphones", "Kettle", "Jacket",
    "Sneakers", "Blender", "Puzzle", "Tent", "Watch", "Speaker", "Mug",
    "Helmet", "Scarf", "Drone", "Planter", "Keyboard", "Novel",
)

# Keeps e-mail local parts plain ASCII (no apostrophes, spaces or accents).
_NOT_EMAIL_SAFE = re.compile(r"[^a-z0-9]+")


NAME_POOL_SIZE = 1000


@dataclass(frozen=True)
class NamePool:
    """First and last names drawn from Faker once; picking from them is ~100x faster per user."""

    first: tuple[str, ...]
    last: tuple[str, ...]


@dataclass(frozen=True)
class Randomness:
    """A seeded ``random.Random`` and a Faker seeded alike: one independent stream.

    Streams are named so that, say, the number of categories does not change
    which users a seed produces.
    """

    rng: random.Random
    fake: Faker

    @cached_property
    def names(self) -> NamePool:
        """Drawn from this stream's Faker on first use (so still determined by the seed)."""
        return NamePool(
            first=tuple(self.fake.first_name() for _ in range(NAME_POOL_SIZE)),
            last=tuple(self.fake.last_name() for _ in range(NAME_POOL_SIZE)),
        )

    @classmethod
    def stream(cls, seed: int, name: str) -> Randomness:
        key = f"{seed}:{name}"  # str seeds are hashed with SHA-512: stable across runs
        fake = Faker("en_US")
        fake.seed_instance(key)
        return cls(rng=random.Random(key), fake=fake)


@dataclass(frozen=True)
class Timeline:
    """The period a seed's timestamps fall in: derived from the seed, never from the clock."""

    start: datetime
    end: datetime

    @classmethod
    def for_seed(cls, seed: int) -> Timeline:
        offset = random.Random(f"{seed}:timeline").randrange(365)
        start = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=offset)
        return cls(start=start, end=start + timedelta(days=365))

    def moment(self, rng: random.Random, after: datetime | None = None, skew: float = 1.0) -> datetime:
        """A whole-second UTC moment in [max(start, after), end); skew < 1 leans late."""
        low = max(self.start, after) if after is not None else self.start
        span = max(0.0, (self.end - low).total_seconds() - 1)
        return low + timedelta(seconds=int(span * rng.random() ** skew))


class UserRow(NamedTuple):
    user_id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    registration_date: datetime
    loyalty_status: str


class CategoryRow(NamedTuple):
    category_id: int
    name: str
    parent_category_id: int | None


class ProductRow(NamedTuple):
    product_id: int
    name: str
    description: str | None
    category_id: int
    price: Decimal
    stock_quantity: int
    creation_date: datetime


class OrderRow(NamedTuple):
    order_id: int
    user_id: int
    order_date: datetime
    total_amount: Decimal
    status: str
    delivery_date: date | None


class LineRow(NamedTuple):
    order_detail_id: int
    order_id: int
    product_id: int
    quantity: int
    price_per_unit: Decimal
    total_price: Decimal


# --- money -------------------------------------------------------------------

def money(value: Decimal | int | str) -> Decimal:
    """A numeric(12,2) value: exactly two places, rounded half-even like PostgreSQL's cast."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def line_total(quantity: int, price_per_unit: Decimal) -> Decimal:
    """total_price of an order line: quantity * price_per_unit, exact."""
    return money(price_per_unit * quantity)


def order_total(line_totals: Iterable[Decimal]) -> Decimal:
    """total_amount of an order: the exact sum of its lines' total_price (0.00 for none)."""
    return money(sum(line_totals, ZERO))


def random_price(rng: random.Random) -> Decimal:
    """A shelf price between 1.99 and 999.99, most of them cheap."""
    cents = 199 + int(99_800 * rng.random() ** 3)
    return Decimal(cents).scaleb(-2)


def repriced(price: Decimal, rng: random.Random) -> Decimal:
    """A new price 20 % below to 25 % above the old one, within 0.01..MAX_PRICE and never equal.

    The factor is uniform in log space (0.8 and 1.25 are equally far from 1), so that a product
    repriced again and again for weeks of `live` wanders around its price instead of drifting up
    (a factor uniform in 0.80..1.25 grows prices ~1.6 % a step) until order totals overflow.
    """
    factor = Decimal(math.exp(rng.uniform(math.log(0.8), math.log(1.25))))
    new = min(MAX_PRICE, max(CENT, money(price * factor)))
    if new == price:
        new = price - CENT if price == MAX_PRICE else price + CENT
    return new


# --- rows ----------------------------------------------------------------------

def build_user(user_id: int, rand: Randomness, registered_at: datetime) -> UserRow:
    fake, rng = rand.fake, rand.rng
    first, last = rng.choice(rand.names.first), rng.choice(rand.names.last)
    return UserRow(
        user_id=user_id,
        first_name=first,
        last_name=last,
        email=email_for(user_id, first, last, fake.free_email_domain()),
        phone=fake.phone_number() if rng.random() < 0.85 else None,
        registration_date=registered_at,
        loyalty_status=rng.choice(LOYALTY),
    )


def email_for(user_id: int, first: str, last: str, domain: str) -> str:
    """Unique by construction: the user id is part of the address."""
    parts = [_NOT_EMAIL_SAFE.sub("", part.lower()) for part in (first, last)]
    local = ".".join(part for part in parts if part) or "user"
    return f"{local}.{user_id}@{domain}"


def root_category_name(index: int) -> str:
    name = DEPARTMENTS[index % len(DEPARTMENTS)]
    rounds = index // len(DEPARTMENTS)
    return f"{name} {rounds + 1}" if rounds else name


def sub_category_name(parent_name: str, rng: random.Random) -> str:
    return f"{rng.choice(QUALIFIERS)} {parent_name}"


def category_name(rng: random.Random) -> str:
    """A fresh name for a renamed category."""
    return f"{rng.choice(QUALIFIERS)} {rng.choice(DEPARTMENTS)}"


def build_product(product_id: int, category_id: int, rand: Randomness, created_at: datetime) -> ProductRow:
    fake, rng = rand.fake, rand.rng
    return ProductRow(
        product_id=product_id,
        name=f"{fake.color_name()} {rng.choice(GOODS)}",
        description=fake.sentence(nb_words=10) if rng.random() < 0.9 else None,
        category_id=category_id,
        price=random_price(rng),
        stock_quantity=rng.randint(0, 500),
        creation_date=created_at,
    )


def line_count(rng: random.Random) -> int:
    return rng.randint(1, MAX_LINES_PER_ORDER)


def quantity(rng: random.Random) -> int:
    return rng.choice(QUANTITY)


def other_quantity(current: int, rng: random.Random) -> int:
    """A quantity from 1 to MAX_QUANTITY that differs from current, uniformly."""
    new = rng.randint(1, MAX_QUANTITY - 1)
    return new if new < current else new + 1


def pick_distinct(rng: random.Random, pool: Sequence[object], count: int) -> list[int]:
    """`count` distinct indexes into pool, skewed towards its start (popular items first)."""
    wanted = min(count, len(pool))
    chosen: dict[int, None] = {}
    while len(chosen) < wanted:
        chosen[int(len(pool) * rng.random() ** 2)] = None
    return list(chosen)


def historic_status(age: timedelta, rng: random.Random) -> str:
    """A seeded order's status: recent orders are still open, old ones settled."""
    if age < timedelta(days=1):
        return rng.choice(STATUS_UNDER_A_DAY)
    if age < timedelta(days=7):
        return rng.choice(STATUS_UNDER_A_WEEK)
    return rng.choice(STATUS_OLDER)


def expected_delivery(shipped_at: datetime, rng: random.Random) -> date:
    return (shipped_at + timedelta(days=rng.randint(2, 5))).date()


def delivery_date_for(status: str, ordered_at: datetime, rng: random.Random) -> date | None:
    """A seeded order's delivery date. Shipped: the expected one; completed: the actual one."""
    if status == "shipped":
        return expected_delivery(ordered_at, rng)
    if status == "completed":
        return (ordered_at + timedelta(days=rng.randint(1, 7))).date()
    return None


def build_lines(
    order_id: int, line_ids: Sequence[int], products: Sequence[tuple[int, Decimal]], rng: random.Random
) -> list[LineRow]:
    """One line per (product_id, price), with a random quantity, taking the given ids in order."""
    lines = []
    for line_id, (product_id, price) in zip(line_ids, products, strict=True):
        qty = quantity(rng)
        lines.append(LineRow(line_id, order_id, product_id, qty, price, line_total(qty, price)))
    return lines
