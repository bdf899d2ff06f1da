"""Source schema changes under live load reach the replica by themselves (consumer.schema), on a stack of its own.

Each test changes the source's tables (what every later test of the module sees), runs the generator while
doing so, and ends with `cdc verify` exact: the replica's tables have the source's columns now, with its
values. The incompatible change runs last but two: its table stays paused until the next test backfills it. The
last test adds a table that pauses (named like a mart), checks the mart, and removes the table from the
publication before `cdc verify`.
"""
from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from consumer.verify import replica_reports
from core.mysql import close_quietly, connect, fetch_all
from core.settings import MySqlSettings, SourceSettings
from core.verify import render
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.pipeline import assert_exact, env_of, own_pipeline, seed, source

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Path]:
    with own_pipeline("cdc-schema-stack-") as folder:
        # About 100,000 order lines: the table a column with a default is added to.
        seed(env_of(folder), "--users", "2000", "--categories", "20", "--products", "400", "--orders", "40000",
             "--seed", "10")
        yield folder


def source_value(folder: Path, query: str) -> object:
    conn = psycopg2.connect(env_of(folder)["PG_DSN"])
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            row = cur.fetchone()
            assert row is not None
            return row[0]
    finally:
        conn.close()


def replica_columns(folder: Path, table: str) -> dict[str, str]:
    """The replica table's columns and their types (without the position column)."""
    rows = fetch_all(MySqlSettings.from_env(env_of(folder)),
                     "SELECT column_name, column_type, is_nullable FROM information_schema.columns"
                     " WHERE table_schema = DATABASE() AND table_name = %s AND column_name <> '_cdc_lsn'"
                     " ORDER BY ordinal_position", (table,))
    return {name: f"{kind} {'NULL' if nullable == 'YES' else 'NOT NULL'}" for name, kind, nullable in rows}


def live(folder: Path, seed_number: int, duration: float = 10) -> subprocess.Popen[str]:
    """60 shop transactions a second for 10 s: a test's schema changes start within its first 6 s, so a few seconds
    of load run on the changed tables."""
    return start_live_load(env_of(folder), seed=seed_number, duration=duration, rate=60)


def test_columns_added_under_load_replicate_and_existing_rows_get_the_sources_value(pipeline: Path) -> None:
    assert int(source_value(pipeline, "SELECT count(*) FROM order_details")) >= 100_000  # type: ignore[call-overload]
    generator = live(pipeline, 101)
    time.sleep(4)
    source(pipeline, "ALTER TABLE order_details ADD COLUMN gift_wrap boolean NOT NULL DEFAULT false")
    source(pipeline, "ALTER TABLE users ADD COLUMN nickname text")
    time.sleep(2)
    source(pipeline, "UPDATE users SET nickname = 'nick-' || user_id WHERE user_id % 7 = 0")
    source(pipeline, "ALTER TABLE orders ADD COLUMN channel text NOT NULL DEFAULT 'web'",
           "UPDATE orders SET channel = 'app' WHERE order_id % 5 = 0")  # DDL and DML in one transaction
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    assert replica_columns(pipeline, "order_details")["gift_wrap"] == "tinyint(1) NOT NULL"
    assert replica_columns(pipeline, "users")["nickname"] == "longtext NULL"
    assert replica_columns(pipeline, "orders")["channel"] == "longtext NOT NULL"


def test_a_renamed_column_is_renamed_in_the_replica_with_its_values(pipeline: Path) -> None:
    generator = live(pipeline, 102)
    time.sleep(4)
    source(pipeline, "ALTER TABLE users RENAME COLUMN nickname TO alias")
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    columns = replica_columns(pipeline, "users")
    assert "alias" in columns and "nickname" not in columns


def test_widened_types_widen_the_replica_columns(pipeline: Path) -> None:
    generator = live(pipeline, 103)
    time.sleep(4)
    source(pipeline, "ALTER TABLE order_details ALTER COLUMN quantity TYPE bigint")
    source(pipeline, "ALTER TABLE orders ALTER COLUMN total_amount TYPE numeric(14,2)")
    source(pipeline, "ALTER TABLE users ALTER COLUMN alias TYPE varchar(80)")
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    assert replica_columns(pipeline, "order_details")["quantity"].startswith("bigint")
    assert replica_columns(pipeline, "orders")["total_amount"] == "decimal(14,2) NOT NULL"


def test_a_dropped_column_is_dropped_from_the_replica(pipeline: Path) -> None:
    generator = live(pipeline, 104)
    time.sleep(4)
    source(pipeline, "ALTER TABLE users DROP COLUMN alias")
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    assert "alias" not in replica_columns(pipeline, "users")


def test_migrations_that_fill_then_tighten_or_move_a_column_in_one_transaction_end_exact(pipeline: Path) -> None:
    generator = live(pipeline, 107)
    time.sleep(4)
    source(pipeline, "ALTER TABLE users ADD COLUMN note text",
           "UPDATE users SET note = 'n-' || user_id",
           "ALTER TABLE users ALTER COLUMN note SET DEFAULT 'new'",
           "ALTER TABLE users ALTER COLUMN note SET NOT NULL")
    time.sleep(2)
    source(pipeline, "ALTER TABLE users ADD COLUMN remark text NOT NULL DEFAULT ''",
           "UPDATE users SET remark = note",
           "ALTER TABLE users DROP COLUMN note")
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    assert replica_columns(pipeline, "users")["remark"] == "longtext NOT NULL" and "note" not in replica_columns(
        pipeline, "users")


def test_a_consumer_sigkilled_while_schema_changes_apply_resumes_exact(pipeline: Path) -> None:
    generator = live(pipeline, 105, duration=30)
    for number in range(3):
        time.sleep(3)
        source(pipeline, f"ALTER TABLE users ADD COLUMN extra_{number} integer NOT NULL DEFAULT {number}")
        time.sleep(0.3)
        result = run_cdc("local", "restart", "--dir", str(pipeline), "consumer", "--kill")
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        source(pipeline, f"ALTER TABLE users DROP COLUMN extra_{number}")
    finish_live_load(generator)
    assert_exact(env_of(pipeline))


def test_a_backfill_repairs_replica_rows_deleted_by_hand_while_the_generator_runs(pipeline: Path) -> None:
    env = env_of(pipeline)
    mysql = MySqlSettings.from_env(env)
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            deleted = cur.execute("DELETE FROM orders WHERE order_id % 2 = 0")
        conn.commit()
    finally:
        close_quietly(conn)
    assert deleted > 10_000
    generator = live(pipeline, 108, duration=30)
    time.sleep(3)
    result = run_cdc("backfill", "orders", env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "orders: " in result.stderr and "rows read (100%)" in result.stderr
    finish_live_load(generator)
    assert_exact(env)


def test_a_table_added_to_the_publication_is_created_backfilled_and_follows_its_changes(pipeline: Path) -> None:
    source(pipeline, "CREATE TABLE coupons (coupon_id bigserial PRIMARY KEY, code text NOT NULL,"
                     " percent numeric(5,2), valid_until date)",
           "INSERT INTO coupons (code, percent, valid_until)"
           " SELECT 'C' || g, g % 50, date '2026-01-01' + g FROM generate_series(1, 5000) g")
    generator = live(pipeline, 109)
    time.sleep(3)
    source(pipeline, "ALTER PUBLICATION cdc_publication ADD TABLE coupons")
    source(pipeline, "INSERT INTO coupons (code, percent) VALUES ('NEW', 1.5)")
    source(pipeline, "UPDATE coupons SET percent = 9 WHERE coupon_id % 10 = 3")
    source(pipeline, "DELETE FROM coupons WHERE coupon_id % 10 = 4")
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    rows = fetch_all(MySqlSettings.from_env(env_of(pipeline)),
                     "SELECT count(*), sum(percent = 9) FROM coupons")
    assert (int(rows[0][0]), int(rows[0][1])) == (4501, 600)  # 500 updated, 100 were 9 already
    columns = replica_columns(pipeline, "coupons")
    assert list(columns) == ["coupon_id", "code", "percent", "valid_until"]
    assert (columns["percent"], columns["valid_until"]) == ("decimal(5,2) NULL", "date NULL")


def test_an_incompatible_change_pauses_that_table_only_and_says_so(pipeline: Path) -> None:
    env = env_of(pipeline)
    generator = live(pipeline, 106)
    time.sleep(4)
    source(pipeline, "ALTER TABLE product_categories ALTER COLUMN parent_category_id TYPE integer")
    finish_live_load(generator)
    source(pipeline, "UPDATE product_categories SET name = name || ' (renamed)' WHERE category_id = 1")

    others = ["users", "products", "orders", "order_details"]
    deadline = time.monotonic() + 120
    while True:
        reports = replica_reports(SourceSettings.from_env(env), MySqlSettings.from_env(env), others)
        if all(report.matches for report in reports) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all(report.matches for report in reports), render(reports)

    stats = run_cdc("consume", "--stats", env=env)
    assert stats.returncode == 0, stats.stderr[-2000:]
    assert "PAUSED product_categories: table product_categories paused at source schema change" in stats.stdout
    assert "bigint -> integer is not a widening" in stats.stdout
    log = (pipeline / "logs" / "consumer.log").read_text()
    assert "table product_categories paused at source schema change" in log
    with urllib.request.urlopen(env["CONSUMER_METRICS_URL"], timeout=10) as response:
        metrics = response.read().decode()
    assert 'cdc_table_paused{table="product_categories"} 1.0' in metrics
    assert 'cdc_table_paused{table="users"} 0.0' in metrics
    assert 'cdc_dead_letters_total{stage="replica"} 0.0' in metrics  # nothing dead-lettered for schema reasons
    assert fetch_all(MySqlSettings.from_env(env), "SELECT name FROM product_categories WHERE category_id = 1")[0][0] \
        .endswith("(renamed)") is False  # paused: its later changes are not applied


def test_a_backfill_of_the_paused_table_makes_it_anew_and_the_replica_exact(pipeline: Path) -> None:
    env = env_of(pipeline)
    generator = live(pipeline, 109)
    result = run_cdc("backfill", "product_categories", env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    finish_live_load(generator)
    assert_exact(env)
    assert replica_columns(pipeline, "product_categories")["parent_category_id"].startswith("int")
    with urllib.request.urlopen(env["CONSUMER_METRICS_URL"], timeout=10) as response:
        assert 'cdc_table_paused{table="product_categories"} 0.0' in response.read().decode()
    stats = run_cdc("consume", "--stats", env=env)
    assert "PAUSED" not in stats.stdout


def test_a_source_table_named_like_a_mart_is_paused_and_the_mart_is_left_as_it_is(pipeline: Path) -> None:
    env = env_of(pipeline)
    mysql = MySqlSettings.from_env(env)
    mart_columns = replica_columns(pipeline, "user_activity")
    assert "total_spent" in mart_columns  # the mart's, made by the marts worker
    (mart_rows,) = fetch_all(mysql, "CHECKSUM TABLE user_activity")
    source(pipeline, "CREATE TABLE user_activity (id bigserial PRIMARY KEY, note text)",
           "INSERT INTO user_activity (note) SELECT 'n' || g FROM generate_series(1, 100) g")
    source(pipeline, "ALTER PUBLICATION cdc_publication ADD TABLE user_activity")
    source(pipeline, "INSERT INTO user_activity (note) VALUES ('after')")

    deadline = time.monotonic() + 120
    while ("PAUSED user_activity" not in (stats := run_cdc("consume", "--stats", env=env).stdout)
           and replica_columns(pipeline, "user_activity") == mart_columns):  # until paused, or the mart replaced
        assert time.monotonic() < deadline, stats[-2000:]
        time.sleep(1)
    assert replica_columns(pipeline, "user_activity") == mart_columns
    assert fetch_all(mysql, "CHECKSUM TABLE user_activity") == [mart_rows]
    assert "its name is that of the pipeline's own MySQL table user_activity" in stats
    source(pipeline, "ALTER PUBLICATION cdc_publication DROP TABLE user_activity")  # the way out: no longer compared
    assert_exact(env)  # the replica's other tables and both marts
