"""The connector streams exact Debezium change events for the five source tables."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest

from core.topic_names import schema_changes_topic
from core.topics import topic_partitions
from tests.support.kafka import Message, TopicReader

pytestmark = pytest.mark.integration


def topic(table: str) -> str:
    return f"shop.public.{table}"


@pytest.fixture(scope="module")
def pg(stack_env: dict[str, str]) -> Iterator[Any]:
    conn = psycopg2.connect(stack_env["PG_DSN"])
    conn.autocommit = True
    yield conn
    conn.close()


def run(pg: Any, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with pg.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def capture(bootstrap: str, table: str, key_column: str, count: int, change: Callable[[], int]) -> list[Message]:
    """Apply `change` (it returns the row's id) and return the first `count` events for that row."""
    tail = TopicReader(bootstrap, [topic(table)], from_end=True)
    try:
        row_id = change()
        key = {key_column: row_id}
        mine = lambda events: [e for e in events if e.json_key == key]  # noqa: E731
        return mine(tail.collect(lambda events: len(mine(events)) >= count, timeout=60))
    finally:
        tail.close()


@pytest.fixture(scope="module")
def product(pg: Any, stack_env: dict[str, str]) -> dict[str, int]:
    """A user, a category and a product whose events have arrived (so their topics exist)."""
    ids: dict[str, int] = {}

    def insert() -> int:
        ((ids["user_id"],),) = run(
            pg, "INSERT INTO users (first_name, last_name, email) VALUES ('Ann', 'Lee', 'ann@example.com') RETURNING user_id"
        )
        ((ids["category_id"],),) = run(pg, "INSERT INTO product_categories (name) VALUES ('Books') RETURNING category_id")
        ((ids["product_id"],),) = run(
            pg, "INSERT INTO products (name, category_id, price) VALUES ('Atlas', %s, 19.99) RETURNING product_id",
            (ids["category_id"],),
        )
        return ids["product_id"]

    assert len(capture(stack_env["KAFKA_BOOTSTRAP"], "products", "product_id", 1, insert)) == 1
    return ids


def new_order(pg: Any, product: dict[str, int], total: str = "1234567890.12") -> tuple[int, int]:
    ((order_id,),) = run(
        pg,
        "INSERT INTO orders (user_id, order_date, total_amount, status, delivery_date) "
        "VALUES (%s, '2026-03-29 01:59:59.999999+00', %s, 'pending', '1970-01-02') RETURNING order_id",
        (product["user_id"], total),
    )
    ((line_id,),) = run(
        pg,
        "INSERT INTO order_details (order_id, product_id, quantity, price_per_unit, total_price) "
        "VALUES (%s, %s, 2, 617283945.06, %s) RETURNING order_detail_id",
        (order_id, product["product_id"], total),
    )
    return order_id, line_id


def test_insert_emits_create_event_with_unicode_null_empty_string_and_utc_timestamp(
    pg: Any, stack_env: dict[str, str], product: dict[str, int]
) -> None:
    def insert() -> int:
        ((user_id,),) = run(
            pg,
            "INSERT INTO users (first_name, last_name, email, phone, registration_date, loyalty_status) "
            "VALUES ('Zoë 🚀', '', 'zoe@example.com', NULL, '2024-03-31 01:30:00.123456+02', 'gold') RETURNING user_id",
        )
        return user_id

    (event,) = capture(stack_env["KAFKA_BOOTSTRAP"], "users", "user_id", 1, insert)
    assert event.json_value["op"] == "c"
    assert event.json_value["before"] is None
    assert event.json_value["after"] == {
        "user_id": event.json_key["user_id"],
        "first_name": "Zoë 🚀",
        "last_name": "",
        "email": "zoe@example.com",
        "phone": None,
        "registration_date": "2024-03-30T23:30:00.123456Z",
        "loyalty_status": "gold",
    }
    assert (event.json_value["source"]["table"], event.json_value["source"]["snapshot"]) == ("users", "false")


def test_update_emits_full_before_and_after_with_exact_decimals_and_dates(
    pg: Any, stack_env: dict[str, str], product: dict[str, int]
) -> None:
    def update() -> int:
        order_id, _ = new_order(pg, product)
        run(pg, "UPDATE orders SET status = 'paid', total_amount = -0.01 WHERE order_id = %s", (order_id,))
        return order_id

    create, update_event = capture(stack_env["KAFKA_BOOTSTRAP"], "orders", "order_id", 2, update)
    before = {
        "order_id": create.json_key["order_id"],
        "user_id": product["user_id"],
        "order_date": "2026-03-29T01:59:59.999999Z",
        "total_amount": "1234567890.12",
        "status": "pending",
        "delivery_date": 1,  # days since 1970-01-01
    }
    assert create.json_value["op"] == "c" and create.json_value["after"] == before
    assert update_event.json_value["op"] == "u"
    assert update_event.json_value["before"] == before
    assert update_event.json_value["after"] == {**before, "status": "paid", "total_amount": "-0.01"}


def test_delete_emits_full_before_then_a_tombstone(
    pg: Any, stack_env: dict[str, str], product: dict[str, int]
) -> None:
    def delete() -> int:
        _, line_id = new_order(pg, product, total="0.00")
        run(pg, "DELETE FROM order_details WHERE order_detail_id = %s", (line_id,))
        return line_id

    create, delete_event, tombstone = capture(stack_env["KAFKA_BOOTSTRAP"], "order_details", "order_detail_id", 3, delete)
    line = create.json_value["after"]
    assert line["price_per_unit"] == "617283945.06" and line["total_price"] == "0.00"
    assert delete_event.json_value["op"] == "d"
    assert delete_event.json_value["before"] == line
    assert delete_event.json_value["after"] is None
    assert tombstone.json_value is None and tombstone.json_key == create.json_key


def test_order_delete_cascades_into_delete_events_for_its_lines(
    pg: Any, stack_env: dict[str, str], product: dict[str, int]
) -> None:
    def delete_order() -> int:
        order_id, line_id = new_order(pg, product)
        run(pg, "DELETE FROM orders WHERE order_id = %s", (order_id,))
        return line_id

    events = capture(stack_env["KAFKA_BOOTSTRAP"], "order_details", "order_detail_id", 3, delete_order)
    assert [(e.json_value or {}).get("op") for e in events] == ["c", "d", None]
    assert events[1].json_value["before"] == events[0].json_value["after"]


def test_a_ddl_reaches_the_schema_changes_topic_in_its_transaction(pg: Any, stack_env: dict[str, str]) -> None:
    # A table of the test's own: the shop tables' shape stays what the session's other tests expect.
    table = f"ddl_probe_{uuid.uuid4().hex[:8]}"
    bootstrap = stack_env["KAFKA_BOOTSTRAP"]
    changes = schema_changes_topic("shop")
    assert topic_partitions(bootstrap, [changes]) == {changes: [0]}
    tail = TopicReader(bootstrap, [changes], from_end=True)
    try:
        run(pg, f"CREATE TABLE {table} (id bigint PRIMARY KEY)")
        run(pg, f"ALTER TABLE {table} ADD COLUMN note text")
        mine = lambda events: [e for e in events if e.json_value["after"]["table_name"] == table]  # noqa: E731
        events = mine(tail.collect(lambda events: len(mine(events)) >= 2, timeout=60))
    finally:
        tail.close()
        run(pg, f"DROP TABLE IF EXISTS {table}")
    ((definition,),) = run(pg, "SELECT definition::text FROM cdc_schema_changes WHERE table_name = %s "
                               "AND command = 'ALTER TABLE'", (table,))

    created, altered = (event.json_value for event in events)
    assert [(e["op"], e["after"]["command"]) for e in (created, altered)] == [("c", "CREATE TABLE"),
                                                                              ("c", "ALTER TABLE")]
    streamed = json.loads(altered["after"]["definition"])
    assert streamed == json.loads(definition)
    assert isinstance(streamed.pop("oid"), int)
    plain = {"has_missing": False, "missing": None, "identity": False, "generated": False}
    assert streamed == {
        "table": table, "primary_key": ["id"], "columns": [
            {"attnum": 1, "name": "id", "type": "bigint", "nullable": False, "default": None, **plain},
            {"attnum": 2, "name": "note", "type": "text", "nullable": True, "default": None, **plain}]}
    assert isinstance(altered["after"]["definition"], str)  # Debezium's jsonb: the JSON text
    assert altered["transaction"]["id"].split(":")[0] == str(altered["source"]["txId"])
    assert altered["transaction"]["total_order"] == 1
    assert created["source"]["txId"] != altered["source"]["txId"]
