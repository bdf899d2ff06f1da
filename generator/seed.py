"""Seed the source database: a plan's rows bulk-loaded with COPY, in one transaction."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import psycopg2

from core.settings import SourceSettings
from generator import dataset, db
from generator.dataset import Existing, FirstIds, SeedPlan
from generator.errors import GeneratorError
from generator.model import MAX_PRICE, Timeline
from generator.pacing import per_second
from generator.pgcopy import batched, copy_rows
from generator.tables import ALL_TABLES, CATEGORIES, LINES, ORDERS, PRODUCTS, USERS, Table

log = logging.getLogger(__name__)

BATCH_ROWS = 20_000
Progress = Callable[[int], None]  # called with how many more plan entities are loaded


@dataclass(frozen=True)
class SeedSummary:
    rows: Mapping[str, int]  # table name -> rows added
    seconds: float
    first_ids: FirstIds

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return per_second(self.total_rows, self.seconds)


def seed_database(
    settings: SourceSettings, plan: SeedPlan, *, append: bool = False, progress: Progress | None = None
) -> SeedSummary:
    """Load plan's rows; refuse a database that holds data unless append.

    With append the new rows take ids after the current highest ones and
    new products and orders may refer to existing categories, users and
    products as well as new ones.
    """
    started = time.perf_counter()
    conn = db.connect(settings, "cdc-generate-seed")
    try:
        with conn, conn.cursor() as cur:
            rows, first_ids = _seed(cur, plan, append, progress or (lambda _: None))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE {', '.join(table.name for table in ALL_TABLES)}")
    except psycopg2.Error as exc:
        raise GeneratorError(f"seeding failed: {exc}".strip()) from exc
    finally:
        conn.close()
    summary = SeedSummary(MappingProxyType(rows), time.perf_counter() - started, first_ids)
    log.info("seeded %d rows in %.1f s (%.0f rows/s)", summary.total_rows, summary.seconds, summary.rows_per_second)
    return summary


def occupied_tables(settings: SourceSettings) -> list[str]:
    """The source tables that already hold rows."""
    conn = db.connect(settings, "cdc-generate-seed")
    try:
        with conn.cursor() as cur:
            return [table.name for table in ALL_TABLES if db.has_rows(cur, table)]
    finally:
        conn.close()


def _seed(cur: Any, plan: SeedPlan, append: bool, progress: Progress) -> tuple[dict[str, int], FirstIds]:
    # Writers wait until the seed commits; readers (and Debezium) carry on.
    cur.execute(f"LOCK TABLE {', '.join(t.name for t in ALL_TABLES)} IN SHARE ROW EXCLUSIVE MODE")
    occupied = [table.name for table in ALL_TABLES if db.has_rows(cur, table)]
    if occupied and not append:
        raise GeneratorError(
            f"the database already holds data ({', '.join(occupied)}); "
            "seed needs empty tables, or pass --append to add a batch after the existing rows"
        )
    existing = load_existing(cur) if append else Existing()
    rows = load_plan(cur, plan, existing, progress)
    for table in ALL_TABLES:
        db.advance_sequence(cur, table)
    return rows, existing.first_ids


def load_existing(cur: Any) -> Existing:
    cur.execute("SELECT user_id, registration_date FROM users ORDER BY user_id")
    users = tuple(cur.fetchall())
    cur.execute("SELECT category_id FROM product_categories ORDER BY category_id")
    category_ids = tuple(row[0] for row in cur.fetchall())
    cur.execute("SELECT product_id, price FROM products WHERE price <= %s ORDER BY product_id", (MAX_PRICE,))
    products = tuple(cur.fetchall())
    first_ids = FirstIds(
        user=db.next_free_id(cur, USERS),
        category=db.next_free_id(cur, CATEGORIES),
        product=db.next_free_id(cur, PRODUCTS),
        order=db.next_free_id(cur, ORDERS),
        line=db.next_free_id(cur, LINES),
    )
    return Existing(users, category_ids, products, first_ids)


def load_plan(cur: Any, plan: SeedPlan, existing: Existing, progress: Progress) -> dict[str, int]:
    """COPY every table's rows in batches, parents first; returns rows per table."""
    timeline = Timeline.for_seed(plan.seed)
    first = existing.first_ids
    counts = {table.name: 0 for table in ALL_TABLES}

    def copy(table: Table, rows: list[Any], entities: int) -> None:
        counts[table.name] += copy_rows(cur, table, rows)
        progress(entities)

    users = list(existing.users)
    for user_batch in batched(dataset.user_rows(plan, timeline, first.user), BATCH_ROWS):
        copy(USERS, user_batch, len(user_batch))
        users.extend((user.user_id, user.registration_date) for user in user_batch)

    categories = dataset.category_rows(plan, first.category)
    copy(CATEGORIES, categories, len(categories))
    category_ids = existing.category_ids + tuple(row.category_id for row in categories)

    products = list(existing.products)
    for product_batch in batched(dataset.product_rows(plan, timeline, first.product, category_ids), BATCH_ROWS):
        copy(PRODUCTS, product_batch, len(product_batch))
        products.extend((product.product_id, product.price) for product in product_batch)

    orders = dataset.order_rows(plan, timeline, first, tuple(users), tuple(products))
    for order_batch in batched(orders, BATCH_ROWS // 4):
        copy(ORDERS, [order for order, _ in order_batch], 0)
        copy(LINES, [line for _, lines in order_batch for line in lines], len(order_batch))
    return counts
