"""Edge values reach the replica exactly; values MySQL cannot hold are dead-lettered with a clear error."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from consumer.replica_schema import REPLICA_TABLES
from core.verify import compare
from tests.support.kafka import read_dead_letters
from tests.support.mysql import mysql_rows, wait_for_rows
from tests.support.stack import on_both_servers
from tests.support.workers import ConsumerProcess

pytestmark = [pytest.mark.integration, on_both_servers]

TIMESTAMPS = [
    "2024-03-31 01:59:59.999999+00",  # the instant before Europe's spring-forward
    "2024-03-31 02:30:00+02",  # spring-forward, given with an offset
    "2024-10-27 02:30:00+01",  # fall-back: the second 02:30 in Central Europe
    "2024-11-03 01:30:00-05",  # US fall-back
    "1000-01-01 00:00:00+00",  # the lowest DATETIME
    "9999-12-31 23:59:59.999999+00",  # the highest DATETIME
    "1969-12-31 23:59:59.000001+00",  # just before the epoch
]
AMOUNTS = ["9999999999.99", "-9999999999.99", "0.00", "-0.01", "0.10", "1234567890.12", "-0.00"]


@pytest.fixture
def pg(stack_env: dict[str, str]) -> Iterator[Any]:
    conn = psycopg2.connect(stack_env["PG_DSN"], options="-c timezone=UTC")
    conn.autocommit = True
    yield conn
    conn.close()


def one(pg: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with pg.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def rows(pg: Any, table: str, key: str, ids: list[int]) -> list[tuple[Any, ...]]:
    columns = ", ".join(REPLICA_TABLES[table].column_names)
    with pg.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM {table} WHERE {key} = ANY(%s) ORDER BY {key}", (ids,))
        return cur.fetchall()


def insert_edge_rows(pg: Any, tag: str) -> dict[str, list[int]]:
    users = [
        one(pg, "INSERT INTO users (first_name, last_name, email, phone, registration_date) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING user_id",
            (f"Zoë 🚀👩‍👩‍👧 {i}", "" if i % 2 else "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", f"edge-{tag}-{i}@example.com",
             None if i % 2 else "", ts))
        for i, ts in enumerate(TIMESTAMPS)
    ]
    category = one(pg, "INSERT INTO product_categories (name) VALUES ('') RETURNING category_id")
    products = [
        one(pg, "INSERT INTO products (name, description, category_id, price, creation_date) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING product_id",
            ("'; DROP TABLE products; -- \\ \" `", None if i else "", category, price, TIMESTAMPS[i]))
        for i, price in enumerate(["9999999999.99", "0.00", "0.01"])
    ]
    orders = [
        one(pg, "INSERT INTO orders (user_id, order_date, total_amount, delivery_date) "
                "VALUES (%s, %s, %s, %s) RETURNING order_id",
            (users[0], TIMESTAMPS[i % len(TIMESTAMPS)], amount, [None, "1000-01-01", "9999-12-31", "1970-01-01"][i % 4]))
        for i, amount in enumerate(AMOUNTS)
    ]
    return {"users": users, "product_categories": [category], "products": products, "orders": orders}


KEYS = {"users": "user_id", "product_categories": "category_id", "products": "product_id", "orders": "order_id"}


def test_edge_values_replicate_exactly(replica: dict[str, str], pg: Any, tmp_path: Path) -> None:
    ids = insert_edge_rows(pg, uuid.uuid4().hex[:8])
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    try:
        last_order = ids["orders"][-1]
        assert wait_for_rows(replica, "SELECT 1 FROM orders WHERE order_id = %s", (last_order,), 1)
        for table, key in KEYS.items():
            spec = REPLICA_TABLES[table]
            placeholders = ", ".join(["%s"] * len(ids[table]))
            copy = mysql_rows(replica, f"SELECT {', '.join(spec.column_names)} FROM {table} "
                                       f"WHERE {key} IN ({placeholders})", tuple(ids[table]))
            report = compare(table, spec.column_names, 1, rows(pg, table, key, ids[table]), copy)
            assert report.matches and report.source_rows == len(ids[table]), report.examples
        assert consumer.stop() == 0
    finally:
        consumer.ensure_stopped()
        remove(pg, ids)


def remove(pg: Any, ids: dict[str, list[int]]) -> None:
    """Delete the edge rows again: the generator, which shares the source, must not build on a
    product priced at the numeric(12,2) maximum (its order totals would overflow)."""
    with pg.cursor() as cur:
        for table in ("orders", "products", "product_categories", "users"):
            cur.execute(f"DELETE FROM {table} WHERE {KEYS[table]} = ANY(%s)", (ids[table],))


def test_values_outside_the_mysql_range_are_dead_lettered(replica: dict[str, str], pg: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    user = one(pg, "INSERT INTO users (first_name, last_name, email, registration_date) "
                   "VALUES ('Old', 'Timer', %s, '0001-01-01 00:00:00+00') RETURNING user_id", (f"old-{tag}@example.com",))
    order = one(pg, "INSERT INTO orders (user_id, order_date, delivery_date) "
                    "VALUES (%s, now(), '0999-12-31') RETURNING order_id", (user,))
    marker = one(pg, "INSERT INTO users (first_name, last_name, email) VALUES ('M', 'M', %s) RETURNING user_id",
                 (f"marker-{tag}@example.com",))
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    try:
        assert wait_for_rows(replica, "SELECT 1 FROM users WHERE user_id = %s", (marker,), 1)
        user_key, order_key = (json.dumps(key, separators=(",", ":")).encode()
                               for key in ({"user_id": user}, {"order_id": order}))
        letters = read_dead_letters(replica["KAFKA_BOOTSTRAP"], replica["DEADLETTER_TOPIC"], {user_key, order_key},
                                    timeout=30)
        mine = {(letter.headers["cdc.source.topic"], letter.key): letter for letter in letters}
        user_error = mine[("shop.public.users", user_key)].headers["cdc.error"]
        order_error = mine[("shop.public.orders", order_key)].headers["cdc.error"]
        assert user_error.startswith("column registration_date: 0001-01-01T00:00:00")
        assert user_error.endswith("Z is outside the MySQL/MariaDB DATE/DATETIME range 1000-01-01..9999-12-31")
        assert order_error.startswith("column delivery_date: -354286 days since 1970-01-01 (0999-12-31) is outside")
        assert mysql_rows(replica, "SELECT 1 FROM users WHERE user_id = %s", (user,)) == []
        assert consumer.stop() == 0
    finally:
        consumer.ensure_stopped()
        # The shared source must stay replicable for the other tests: remove the unrepresentable rows.
        with pg.cursor() as cur:
            cur.execute("DELETE FROM orders WHERE order_id = %s", (order,))
            cur.execute("DELETE FROM users WHERE user_id = %s", (user,))
