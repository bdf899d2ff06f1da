"""`cdc generate seed`: deterministic, exact, bulk-loaded data in PostgreSQL."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC

import pytest

from core.settings import SourceSettings
from core.source.tables import SOURCE_TABLES
from generator.dataset import SeedPlan
from generator.errors import GeneratorError
from generator.model import Timeline
from generator.seed import SeedSummary, seed_database
from tests.support.cli import run_cdc
from tests.support.scratch_source import (
    LINE_PRICE_MISMATCHES,
    ORDERS_WITHOUT_LINES,
    TOTAL_MISMATCHES,
    query,
    row_counts,
    scratch_database,
    table_rows,
)

pytestmark = pytest.mark.integration

PLAN = SeedPlan(users=300, categories=20, products=120, orders=1500, seed=11)


@pytest.fixture(scope="module")
def seeded(pg_admin_dsn: str) -> Iterator[tuple[SourceSettings, SeedSummary]]:
    with scratch_database(pg_admin_dsn) as settings:
        yield settings, seed_database(settings, PLAN)


@pytest.fixture()
def empty_db(pg_admin_dsn: str) -> Iterator[SourceSettings]:
    with scratch_database(pg_admin_dsn) as settings:
        yield settings


def test_the_same_seed_gives_identical_rows_in_all_five_tables(
    seeded: tuple[SourceSettings, SeedSummary], empty_db: SourceSettings
) -> None:
    first, _ = seeded
    seed_database(empty_db, PLAN)
    for table in SOURCE_TABLES:
        assert table_rows(empty_db, table) == table_rows(first, table), table


def test_another_seed_gives_other_rows(pg_admin_dsn: str, seeded: tuple[SourceSettings, SeedSummary]) -> None:
    first, _ = seeded
    with scratch_database(pg_admin_dsn) as other:
        seed_database(other, SeedPlan(users=300, categories=20, products=120, orders=1500, seed=12))
        for table in ("users", "products", "orders", "order_details"):
            assert table_rows(other, table) != table_rows(first, table), table


def test_seed_loads_exactly_the_planned_rows_and_reports_them(seeded: tuple[SourceSettings, SeedSummary]) -> None:
    settings, summary = seeded
    counts = row_counts(settings)
    assert counts["users"] == 300
    assert counts["product_categories"] == 20
    assert counts["products"] == 120
    assert counts["orders"] == 1500
    assert 1500 <= counts["order_details"] <= 5 * 1500
    assert dict(summary.rows) == counts
    assert summary.total_rows == sum(counts.values())


def test_every_seeded_order_total_is_the_exact_sum_of_its_one_to_five_lines(
    seeded: tuple[SourceSettings, SeedSummary],
) -> None:
    settings, _ = seeded
    assert query(settings, TOTAL_MISMATCHES) == []
    assert query(settings, ORDERS_WITHOUT_LINES) == []
    assert query(settings, LINE_PRICE_MISMATCHES) == []
    lines_per_order = query(
        settings, "SELECT MIN(n), MAX(n) FROM (SELECT count(*) n FROM order_details GROUP BY order_id) s"
    )
    assert lines_per_order == [(1, 5)]
    repeated_products = query(
        settings, "SELECT order_id FROM order_details GROUP BY order_id, product_id HAVING count(*) > 1"
    )
    assert repeated_products == []


def test_categories_form_a_tree_of_at_most_three_levels_with_a_quarter_roots(
    seeded: tuple[SourceSettings, SeedSummary],
) -> None:
    settings, _ = seeded
    depths = query(settings, """
        WITH RECURSIVE tree AS (
            SELECT category_id, 1 AS depth FROM product_categories WHERE parent_category_id IS NULL
            UNION ALL
            SELECT c.category_id, tree.depth + 1
            FROM product_categories c JOIN tree ON c.parent_category_id = tree.category_id
        )
        SELECT depth, count(*) FROM tree GROUP BY depth ORDER BY depth
    """)
    assert depths[0] == (1, 5)
    assert sum(count for _, count in depths) == 20  # every category is reachable from a root
    assert max(depth for depth, _ in depths) <= 3


def test_timestamps_come_from_the_seed_in_utc_not_from_the_clock(seeded: tuple[SourceSettings, SeedSummary]) -> None:
    settings, _ = seeded
    timeline = Timeline.for_seed(PLAN.seed)
    ((first_registered, last_registered, first_order, last_order),) = query(
        settings,
        "SELECT (SELECT MIN(registration_date) FROM users), (SELECT MAX(registration_date) FROM users),"
        " (SELECT MIN(order_date) FROM orders), (SELECT MAX(order_date) FROM orders)",
    )
    assert timeline.start <= first_registered <= last_registered < timeline.end
    assert timeline.start <= first_order <= last_order < timeline.end
    assert first_order.utcoffset() == UTC.utcoffset(None)
    ordered_before_registering = query(
        settings, "SELECT order_id FROM orders JOIN users USING (user_id) WHERE order_date < registration_date"
    )
    assert ordered_before_registering == []


def test_sequences_continue_after_the_seeded_ids(seeded: tuple[SourceSettings, SeedSummary]) -> None:
    settings, _ = seeded
    ((category_id,),) = query(settings, "INSERT INTO product_categories (name) VALUES ('Tmp') RETURNING category_id")
    query(settings, "DELETE FROM product_categories WHERE category_id = %s", (category_id,))
    assert category_id == 21


def test_seeding_a_database_that_holds_data_is_refused_and_changes_nothing(
    seeded: tuple[SourceSettings, SeedSummary],
) -> None:
    settings, _ = seeded
    before = row_counts(settings)
    with pytest.raises(GeneratorError, match="already holds data.*--append"):
        seed_database(settings, SeedPlan(users=1, categories=1, products=1, orders=1))
    assert row_counts(settings) == before


def test_append_adds_a_batch_with_ids_after_the_existing_ones(empty_db: SourceSettings) -> None:
    seed_database(empty_db, SeedPlan(users=10, categories=4, products=8, orders=30, seed=1))
    ((last_line,),) = query(empty_db, "SELECT MAX(order_detail_id) FROM order_details")

    summary = seed_database(empty_db, SeedPlan(users=5, categories=2, products=3, orders=20, seed=2), append=True)

    assert summary.first_ids.user == 11
    assert summary.first_ids.category == 5
    assert summary.first_ids.product == 9
    assert summary.first_ids.order == 31
    assert summary.first_ids.line == last_line + 1
    assert row_counts(empty_db) == {
        "users": 15, "product_categories": 6, "products": 11, "orders": 50,
        "order_details": last_line + summary.rows["order_details"],
    }
    assert query(empty_db, TOTAL_MISMATCHES) == []
    ((user_id,),) = query(
        empty_db, "INSERT INTO users (first_name, last_name, email) VALUES ('A', 'B', 'a@b.c') RETURNING user_id"
    )
    assert user_id == 16


def test_append_never_puts_a_product_priced_above_the_maximum_in_an_order(empty_db: SourceSettings) -> None:
    seed_database(empty_db, SeedPlan(users=10, categories=2, products=4, orders=0, seed=1))
    query(empty_db, "UPDATE products SET price = 9999999999.99 WHERE product_id = 1")  # set by hand

    seed_database(empty_db, SeedPlan(users=0, categories=0, products=0, orders=200, seed=2), append=True)

    assert query(empty_db, "SELECT count(*) FROM order_details WHERE product_id = 1") == [(0,)]
    assert query(empty_db, "SELECT count(DISTINCT product_id) FROM order_details") == [(3,)]


def test_cli_seed_applies_the_schema_to_a_new_database_and_prints_the_rows(pg_admin_dsn: str) -> None:
    with scratch_database(pg_admin_dsn, migrate=False) as settings:
        result = run_cdc("generate", "seed", "--users", "20", "--categories", "4", "--products", "10",
                         "--orders", "50", "--seed", "3", env={"PG_DSN": settings.dsn})
        assert result.returncode == 0, result.stdout + result.stderr
        assert row_counts(settings)["orders"] == 50
        assert re.search(r"^orders +50$", result.stdout, re.MULTILINE), result.stdout


def test_cli_seed_of_a_database_with_data_fails_with_a_hint_at_append(
    seeded: tuple[SourceSettings, SeedSummary],
) -> None:
    settings, _ = seeded
    result = run_cdc("generate", "seed", env={"PG_DSN": settings.dsn})
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^error: the database already holds data.*--append", result.stderr, re.MULTILINE), result.stderr


def test_cli_seed_if_empty_leaves_a_database_with_data_alone_and_succeeds(
    seeded: tuple[SourceSettings, SeedSummary]
) -> None:
    settings, _ = seeded
    before = row_counts(settings)

    result = run_cdc("generate", "seed", "--if-empty", env={"PG_DSN": settings.dsn})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "not seeding: the source already holds data" in result.stdout
    assert row_counts(settings) == before
