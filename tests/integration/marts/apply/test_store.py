"""The store layer against the stack's MySQL (MariaDB and Oracle MySQL), without Kafka: events fed in chosen orders.

A simulated source applies random shop changes and records the Debezium
change events each produces, per (topic, partition) in order (a row's
events stay in its key's partition, as with Debezium). The events are then
delivered interleaved at random across partitions, with replays, in random
batches; the marts must equal the definitions over the simulated source's
final rows, exactly.
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymysql
import pytest

from core.settings import MySqlSettings
from marts.apply.store import MartStore
from marts.definitions import SALES_BY_CATEGORY, USER_ACTIVITY
from marts.errors import StoreStopped
from marts.events import Event, Position, RowChange, Truncate
from marts.schema import ensure_schema
from marts.verify import mart_rows, report
from tests.support.shop_simulator import Source, shuffled_delivery
from tests.support.stack import on_both_servers
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, on_both_servers]


@pytest.fixture
def mysql(stack_env: dict[str, str]) -> Iterator[MySqlSettings]:
    settings = MySqlSettings.from_env(stack_env)
    own = MySqlSettings(replace(settings.url, database=f"marts_{uuid.uuid4().hex[:12]}"))
    ensure_schema(own)
    yield own
    conn = pymysql.connect(**{**own.connect_kwargs(), "database": None})
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{own.url.database}`")
    conn.close()


def feed(store: MartStore, events: list[Event], rand: random.Random) -> None:
    while events:
        size = rand.randint(1, 40)
        store.apply(events[:size])
        events = events[size:]


def assert_marts_match(mysql: MySqlSettings, expected: dict[str, list[tuple[Any, ...]]]) -> None:
    for spec in (USER_ACTIVITY, SALES_BY_CATEGORY):
        found = report(spec, expected[spec.name], mart_rows(mysql, spec))
        assert found.matches, found
        assert found.source_rows > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_changes_in_any_arrival_order_with_replays_give_the_definitions(
    mysql: MySqlSettings, seed: int
) -> None:
    rand = random.Random(seed)
    source = Source(rand)
    source.run(400)
    store = MartStore(mysql)
    try:
        feed(store, shuffled_delivery(source.log, rand), rand)
        assert_marts_match(mysql, source.expected())
        # A whole replay after "a crash" changes nothing.
        feed(store, [e for events in source.log.values() for e in events], rand)
        assert_marts_match(mysql, source.expected())
    finally:
        store.close()


def test_two_stores_applying_disjoint_partitions_concurrently_give_the_definitions(mysql: MySqlSettings) -> None:
    rand = random.Random(11)
    source = Source(rand)
    source.run(400)
    halves: list[list[Event]] = [[], []]
    for (_table, partition), events in sorted(source.log.items()):
        halves[partition % 2].extend(events)
    errors: list[BaseException] = []

    def work(events: list[Event], seed: int) -> None:
        store = MartStore(mysql)
        try:
            feed(store, events, random.Random(seed))
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=work, args=(half, n)) for n, half in enumerate(halves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert_marts_match(mysql, source.expected())


def _at(table: str, offset: int, change: RowChange | Truncate | None) -> Event:
    return Event(Position(f"shop.public.{table}", 0, offset), change)


def test_a_line_before_its_order_product_and_category_then_cancel_and_rename(mysql: MySqlSettings) -> None:
    store = MartStore(mysql)
    try:
        line = _at("order_details", 0, RowChange("order_details", 100, (100, 10, 20, 3, Decimal("30.00"))))
        order = _at("orders", 0, RowChange("orders", 10, (10, 1, "paid", Decimal("30.00"))))
        product = _at("products", 0, RowChange("products", 20, (20, 5)))
        category = _at("product_categories", 0, RowChange("product_categories", 5, (5, "Books")))
        user = _at("users", 0, RowChange("users", 1, (1, "Ann", "Lee")))
        for event in (line, order, product):
            store.apply([event])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [] and mart_rows(mysql, USER_ACTIVITY) == []
        store.apply([category, user])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 3, Decimal("30.00"))]
        assert mart_rows(mysql, USER_ACTIVITY) == [(1, "paid", "Ann", "Lee", 1, Decimal("30.00"))]
        store.apply([_at("orders", 1, RowChange("orders", 10, (10, 1, "cancelled", Decimal("30.00")))),
                     _at("product_categories", 1, RowChange("product_categories", 5, (5, "Novels"))),
                     _at("users", 1, RowChange("users", 1, (1, "Ann", "Smith")))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == []
        assert mart_rows(mysql, USER_ACTIVITY) == [(1, "cancelled", "Ann", "Smith", 1, Decimal("30.00"))]
        store.apply([_at("orders", 2, RowChange("orders", 10, (10, 1, "paid", Decimal("30.00"))))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Novels", 3, Decimal("30.00"))]
        # A stale duplicate (offset 1 again) is skipped.
        store.apply([_at("orders", 1, RowChange("orders", 10, (10, 1, "cancelled", Decimal("30.00"))))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Novels", 3, Decimal("30.00"))]
    finally:
        store.close()


def test_truncate_of_lines_empties_sales_and_keeps_orders(mysql: MySqlSettings) -> None:
    store = MartStore(mysql)
    try:
        store.apply([
            _at("users", 0, RowChange("users", 1, (1, "Ann", "Lee"))),
            _at("product_categories", 0, RowChange("product_categories", 5, (5, "Books"))),
            _at("products", 0, RowChange("products", 20, (20, 5))),
            _at("orders", 0, RowChange("orders", 10, (10, 1, "paid", Decimal("7.50")))),
            _at("order_details", 0, RowChange("order_details", 100, (100, 10, 20, 3, Decimal("7.50")))),
            _at("order_details", 1, None),  # a tombstone: nothing
        ])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 3, Decimal("7.50"))]
        store.apply([_at("order_details", 2, Truncate("order_details"))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == []
        assert mart_rows(mysql, USER_ACTIVITY) == [(1, "paid", "Ann", "Lee", 1, Decimal("7.50"))]
    finally:
        store.close()


def test_product_move_quantity_edit_line_delete_and_order_delete(mysql: MySqlSettings) -> None:
    store = MartStore(mysql)
    line = lambda n, qty, price: RowChange("order_details", n, (n, 10, 20 + n % 2, qty, Decimal(price)))  # noqa: E731
    try:
        store.apply([
            _at("product_categories", 0, RowChange("product_categories", 5, (5, "Books"))),
            _at("product_categories", 1, RowChange("product_categories", 6, (6, "Games"))),
            _at("products", 0, RowChange("products", 20, (20, 5))),
            _at("products", 1, RowChange("products", 21, (21, 5))),
            _at("users", 0, RowChange("users", 1, (1, "Ann", "Lee"))),
            _at("orders", 0, RowChange("orders", 10, (10, 1, "pending", Decimal("6.00")))),
            _at("order_details", 0, line(100, 1, "1.00")),
            _at("order_details", 1, line(101, 2, "5.00")),
        ])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 3, Decimal("6.00"))]
        store.apply([_at("products", 2, RowChange("products", 21, (21, 6)))])  # line 101 moves to Games
        assert sorted(mart_rows(mysql, SALES_BY_CATEGORY)) == [(5, "Books", 1, Decimal("1.00")),
                                                               (6, "Games", 2, Decimal("5.00"))]
        store.apply([_at("order_details", 2, line(100, 4, "4.00")),
                     _at("orders", 1, RowChange("orders", 10, (10, 1, "pending", Decimal("9.00"))))])
        assert sorted(mart_rows(mysql, SALES_BY_CATEGORY)) == [(5, "Books", 4, Decimal("4.00")),
                                                               (6, "Games", 2, Decimal("5.00"))]
        assert mart_rows(mysql, USER_ACTIVITY) == [(1, "pending", "Ann", "Lee", 1, Decimal("9.00"))]
        store.apply([_at("order_details", 3, RowChange("order_details", 101, None))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 4, Decimal("4.00"))]
        # The order goes before its last line's delete arrives: everything it contributed goes with it.
        store.apply([_at("orders", 2, RowChange("orders", 10, None))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [] and mart_rows(mysql, USER_ACTIVITY) == []
        store.apply([_at("order_details", 4, RowChange("order_details", 100, None))])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == []
    finally:
        store.close()


def test_a_name_longer_than_64_kib_reaches_the_mart_whole(mysql: MySqlSettings) -> None:
    long_name = "N" * 70_000
    store = MartStore(mysql)
    try:
        store.apply([_at("users", 0, RowChange("users", 1, (1, long_name, "Lee"))),
                     _at("orders", 0, RowChange("orders", 10, (10, 1, "paid", Decimal("7.50"))))])
    finally:
        store.close()
    assert mart_rows(mysql, USER_ACTIVITY) == [(1, "paid", long_name, "Lee", 1, Decimal("7.50"))]


def test_names_created_as_text_by_an_earlier_version_are_widened(mysql: MySqlSettings) -> None:
    conn = pymysql.connect(**mysql.connect_kwargs())
    with conn.cursor() as cur:
        cur.execute("ALTER TABLE user_activity MODIFY first_name TEXT NOT NULL")
    conn.close()
    ensure_schema(mysql)
    conn = pymysql.connect(**mysql.connect_kwargs())
    with conn.cursor() as cur:
        cur.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE()"
                    " AND table_name = 'user_activity' AND column_name = 'first_name'")
        assert cur.fetchall() == (("longtext",),)
    conn.close()


def test_an_event_mysql_refuses_is_rejected_alone_and_the_rest_of_its_batch_applies(mysql: MySqlSettings) -> None:
    rejected: list[tuple[Position, str]] = []
    store = MartStore(mysql)
    too_big = Decimal("1000000000000000.00")  # over the state's DECIMAL(14,2)
    try:
        result = store.apply([
            _at("users", 0, RowChange("users", 1, (1, "Ann", "Lee"))),
            _at("orders", 0, RowChange("orders", 10, (10, 1, "paid", Decimal("7.50")))),
            _at("orders", 1, RowChange("orders", 11, (11, 1, "paid", too_big))),
            _at("orders", 2, RowChange("orders", 12, (12, 1, "paid", Decimal("2.50")))),
        ], reject=lambda event, reason: rejected.append((event.position, reason)))
        replay = store.apply([_at("orders", 1, RowChange("orders", 11, (11, 1, "paid", too_big)))],
                             reject=lambda event, reason: rejected.append((event.position, reason)))
    finally:
        store.close()
    assert [position for position, _ in rejected] == [Position("shop.public.orders", 0, 1)]
    assert "Out of range" in rejected[0][1]
    assert (result.applied, result.rejected) == (4, 1)
    assert replay.skipped == 1  # its offset was recorded: a replay does not reject it again
    assert mart_rows(mysql, USER_ACTIVITY) == [(1, "paid", "Ann", "Lee", 2, Decimal("10.00"))]


def _unreachable(mysql: MySqlSettings, proxy: TcpProxy) -> MySqlSettings:
    return MySqlSettings(replace(mysql.url, port=proxy.port))


def test_apply_waits_out_a_mysql_outage_and_commits_once_mysql_is_back(mysql: MySqlSettings, tmp_path: Path) -> None:
    proxy = TcpProxy(mysql.url.port, tmp_path)  # not started: MySQL refuses connections
    store = MartStore(_unreachable(mysql, proxy))
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(store.apply([
        _at("users", 0, RowChange("users", 1, (1, "Ann", "Lee"))),
        _at("orders", 0, RowChange("orders", 10, (10, 1, "paid", Decimal("7.50"))))])))
    worker.start()
    try:
        time.sleep(3.0)
        assert worker.is_alive() and mart_rows(mysql, USER_ACTIVITY) == []
        proxy.start()
        worker.join(timeout=30)
    finally:
        store.stopping.set()
        worker.join(timeout=30)
        store.close()
        proxy.stop()
    assert results and results[0].applied == 2 and results[0].attempts > 1
    assert mart_rows(mysql, USER_ACTIVITY) == [(1, "paid", "Ann", "Lee", 1, Decimal("7.50"))]


def test_a_stop_during_an_outage_ends_the_wait_and_commits_nothing(mysql: MySqlSettings, tmp_path: Path) -> None:
    proxy = TcpProxy(mysql.url.port, tmp_path)
    store = MartStore(_unreachable(mysql, proxy))
    errors: list[BaseException] = []

    def apply() -> None:
        try:
            store.apply([_at("users", 0, RowChange("users", 1, (1, "Ann", "Lee")))])
        except StoreStopped as exc:
            errors.append(exc)

    worker = threading.Thread(target=apply)
    worker.start()
    time.sleep(1.0)
    store.stopping.set()
    worker.join(timeout=15)
    store.close()
    assert not worker.is_alive() and len(errors) == 1
    assert mart_rows(mysql, USER_ACTIVITY) == []


def _on(table: str, partition: int, offset: int, change: RowChange | Truncate, lsn: int) -> Event:
    return Event(Position(f"shop.public.{table}", partition, offset), change, lsn=lsn)


def _line(line_id: int, quantity: int, total: str) -> RowChange:
    return RowChange("order_details", line_id, (line_id, 10, 20, quantity, Decimal(total)))


def _shop_with_one_paid_order(store: MartStore) -> None:
    store.apply([
        _on("users", 0, 0, RowChange("users", 1, (1, "Ann", "Lee")), 10),
        _on("product_categories", 0, 0, RowChange("product_categories", 5, (5, "Books")), 11),
        _on("products", 0, 0, RowChange("products", 20, (20, 5)), 12),
        _on("orders", 0, 0, RowChange("orders", 10, (10, 1, "paid", Decimal("99.00"))), 13),
    ])


def test_truncate_consumed_out_of_order_keeps_exactly_the_lines_written_after_it(mysql: MySqlSettings) -> None:
    store = MartStore(mysql)
    try:
        _shop_with_one_paid_order(store)
        store.apply([_on("order_details", 0, 0, _line(100, 1, "1.00"), 1_000),   # before the truncate
                     _on("order_details", 1, 0, _line(101, 2, "20.00"), 3_000)])  # after it, consumed before it
        store.apply([_on("order_details", 2, 0, Truncate("order_details"), 2_000)])
        store.apply([_on("order_details", 3, 0, _line(102, 4, "300.00"), 1_500)])  # before it, consumed after it
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 2, Decimal("20.00"))]
    finally:
        store.close()


def test_truncate_keeps_a_line_whose_later_change_left_its_mart_columns_alike(mysql: MySqlSettings) -> None:
    store = MartStore(mysql)
    try:
        _shop_with_one_paid_order(store)
        store.apply([_on("order_details", 0, 0, _line(103, 5, "50.00"), 500)])
        store.apply([_on("order_details", 0, 1, _line(103, 5, "50.00"), 2_500)])  # e.g. price_per_unit changed
        store.apply([_on("order_details", 2, 0, Truncate("order_details"), 2_000)])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 5, Decimal("50.00"))]
    finally:
        store.close()


def test_older_truncate_consumed_after_a_newer_one_keeps_the_rows_between_them(mysql: MySqlSettings) -> None:
    store = MartStore(mysql)
    try:
        _shop_with_one_paid_order(store)
        store.apply([_on("order_details", 2, 0, Truncate("order_details"), 2_000),
                     _on("order_details", 1, 0, _line(104, 3, "30.00"), 2_200)])
        store.apply([_on("order_details", 3, 0, Truncate("order_details"), 1_800)])
        assert mart_rows(mysql, SALES_BY_CATEGORY) == [(5, "Books", 3, Decimal("30.00"))]
    finally:
        store.close()
