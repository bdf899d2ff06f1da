"""MySqlSink against the real MariaDB and Oracle MySQL: idempotent replays, truncates, key moves, bad-row isolation."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pymysql
import pytest

import consumer.sink
from consumer.batch import Batch
from consumer.envelope import ChangeEvent
from consumer.replica_schema import REPLICA_TABLES
from consumer.sink import MySqlSink
from core.deadletter import RawMessage
from core.errors import MySqlUnavailable
from core.settings import MySqlSettings
from tests.support.mysql import mysql_rows
from tests.support.ports import free_port
from tests.support.stack import on_both_servers

pytestmark = pytest.mark.integration

offsets = iter(range(1_000_000))


def category(op: str, key: int, name: str = "c", old_key: int | None = None) -> ChangeEvent:
    offset = next(offsets)
    raw = RawMessage("shop.public.product_categories", 0, offset, json.dumps({"category_id": key}).encode(), b"{}")
    row = None if op in "dt" else (key, name, None)
    return ChangeEvent("product_categories", op, None if op == "t" else (key,), row, raw, 1000 + offset,
                       None if old_key is None else (old_key,))


def order(key: int, total: str) -> ChangeEvent:
    offset = next(offsets)
    raw = RawMessage("shop.public.orders", 0, offset, json.dumps({"order_id": key}).encode(), b"{}")
    return ChangeEvent("orders", "c", (key,), (key, 1, datetime(2026, 1, 1), Decimal(total), "paid", None), raw,
                       1000 + offset)


def batch_of(*events: ChangeEvent) -> Batch:
    batch = Batch(specs=dict(REPLICA_TABLES))
    for event in events:
        batch.add(event)
    return batch


@pytest.fixture
def env(replica: dict[str, str]) -> dict[str, str]:
    return replica


@pytest.fixture
def sink(env: dict[str, str]) -> Iterator[MySqlSink]:
    sink = MySqlSink(MySqlSettings.from_env(env))
    yield sink
    sink.close()


def categories(env: dict[str, str]) -> list[tuple[object, ...]]:
    return mysql_rows(env, "SELECT category_id, name FROM product_categories ORDER BY category_id")


@on_both_servers
def test_writing_a_batch_twice_changes_nothing(sink: MySqlSink, env: dict[str, str]) -> None:
    batch = batch_of(category("c", 1, "a"), category("c", 2, "b"), category("u", 1, "a2"), category("d", 2))
    assert sink.write(batch).applied == 2
    assert categories(env) == [(1, "a2")]
    sink.write(batch)
    assert categories(env) == [(1, "a2")]


@on_both_servers
def test_truncate_then_later_changes_in_one_batch(sink: MySqlSink, env: dict[str, str]) -> None:
    sink.write(batch_of(category("c", 1), category("c", 2)))
    sink.write(batch_of(category("c", 3), category("t", 0), category("c", 4, "after")))
    assert categories(env) == [(4, "after")]


@on_both_servers
def test_update_that_moves_the_key(sink: MySqlSink, env: dict[str, str]) -> None:
    sink.write(batch_of(category("c", 5, "x")))
    sink.write(batch_of(category("u", 6, "x", old_key=5)))
    assert categories(env) == [(6, "x")]


@on_both_servers
def test_a_value_mysql_refuses_is_isolated_and_the_rest_applies(sink: MySqlSink, env: dict[str, str]) -> None:
    result = sink.write(batch_of(order(1, "1.00"), order(2, "100000000000.00"), order(3, "-9999999999.99")))
    assert result.applied == 2
    (letter,) = result.dead_letters
    assert letter.stage == "apply" and letter.raw.key == b'{"order_id": 2}' and "Out of range" in letter.error
    assert mysql_rows(env, "SELECT order_id, total_amount FROM orders ORDER BY order_id") == [
        (1, Decimal("1.00")), (3, Decimal("-9999999999.99"))]


@on_both_servers
def test_chained_key_moves_and_other_tables_in_one_batch_of_many_statements_end_exact(
        sink: MySqlSink, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer.sink, "MAX_STATEMENT", 10)  # a statement a row: each next made while one runs
    sink.write(batch_of(category("c", 1, "a"), category("c", 2, "b")))

    sink.write(batch_of(category("u", 3, "b", old_key=2), order(1, "1.00"), category("u", 2, "a", old_key=1),
                        order(2, "2.00"), category("c", 4, "d")))

    assert categories(env) == [(2, "a"), (3, "b"), (4, "d")]
    assert mysql_rows(env, "SELECT order_id, total_amount FROM orders ORDER BY order_id") == [
        (1, Decimal("1.00")), (2, Decimal("2.00"))]


@on_both_servers
def test_a_value_refused_after_statements_of_other_tables_is_isolated_and_the_rest_applies(
        sink: MySqlSink, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer.sink, "MAX_STATEMENT", 10)

    result = sink.write(batch_of(category("c", 1, "a"), category("c", 2, "b"), order(1, "1.00"),
                                 order(2, "100000000000.00"), order(3, "3.00")))

    assert result.applied == 4
    assert [letter.raw.key for letter in result.dead_letters] == [b'{"order_id": 2}']
    assert categories(env) == [(1, "a"), (2, "b")]
    assert mysql_rows(env, "SELECT order_id, total_amount FROM orders ORDER BY order_id") == [
        (1, Decimal("1.00")), (3, Decimal("3.00"))]


def test_unreachable_mysql_is_reported_as_retryable() -> None:
    settings = MySqlSettings.from_env({"MYSQL_URL": f"mysql://root@127.0.0.1:{free_port()}/nothing"})
    with pytest.raises(MySqlUnavailable, match="MySQL"):
        MySqlSink(settings, connect_timeout=1).write(batch_of(category("c", 1)))


def category_at(op: str, key: int, lsn: int, name: str = "c") -> ChangeEvent:
    raw = RawMessage("shop.public.product_categories", 1, next(offsets), json.dumps({"category_id": key}).encode(), b"{}")
    return ChangeEvent("product_categories", op, None if op == "t" else (key,), None if op in "dt" else (key, name, None),
                       raw, lsn)


@on_both_servers
def test_change_from_before_a_truncate_written_in_an_earlier_batch_is_ignored(
    sink: MySqlSink, env: dict[str, str]
) -> None:
    sink.write(batch_of(category_at("c", 1, 100), category_at("c", 2, 300)))
    sink.write(batch_of(category_at("t", 0, 200)))
    sink.write(batch_of(category_at("c", 3, 150), category_at("u", 2, 120, "stale")))
    assert categories(env) == [(2, "c")]


@on_both_servers
def test_older_truncate_after_a_newer_one_deletes_nothing_more(sink: MySqlSink, env: dict[str, str]) -> None:
    sink.write(batch_of(category_at("t", 0, 200), category_at("c", 7, 250)))
    sink.write(batch_of(category_at("t", 0, 180)))
    assert categories(env) == [(7, "c")]
    assert mysql_rows(env, "SELECT table_name, lsn FROM cdc_truncations") == [("product_categories", 200)]


@on_both_servers
def test_table_from_before_positions_gets_the_column_and_its_rows_count_as_older(
    sink: MySqlSink, env: dict[str, str]
) -> None:
    conn = pymysql.connect(**MySqlSettings.from_env(env).connect_kwargs(), autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE product_categories (category_id BIGINT NOT NULL, name LONGTEXT NOT NULL,"
                    " parent_category_id BIGINT NULL, PRIMARY KEY (category_id))")
        cur.execute("INSERT INTO product_categories VALUES (9, 'old', NULL)")
    conn.close()
    sink.write(batch_of(category_at("t", 0, 50), category_at("c", 10, 60)))
    assert categories(env) == [(10, "c")]
