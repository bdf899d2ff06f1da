"""A row of 5 MB replicates: its updates' events (old and new row, REPLICA IDENTITY FULL) pass every size limit."""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from connectors.settings import ConnectorSettings
from core.kafka_connect import ConnectClient
from core.limits import CONSUMER_FETCH_MAX_BYTES, CONSUMER_RECEIVE_MAX_BYTES, MESSAGE_MAX_BYTES
from core.settings import KafkaSettings
from tests.support.kafka import TopicReader
from tests.support.mysql import wait_for_rows
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

DESCRIPTION_CHARS = 5 * 1024 * 1024
FINAL_PRICE = "13.50"


@dataclass(frozen=True)
class LargeProduct:
    product_id: int
    description_md5: str
    price: str


@pytest.fixture(scope="module")
def large_product(stack_env: dict[str, str]) -> LargeProduct:
    """A product with a 5 MB description, inserted, then its price updated twice."""
    description = secrets.token_hex(DESCRIPTION_CHARS // 2)  # incompressible, like real text would not be
    conn = psycopg2.connect(stack_env["PG_DSN"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO product_categories (name) VALUES ('Large rows') RETURNING category_id")
            (category_id,) = cur.fetchone()
            cur.execute("INSERT INTO products (name, description, category_id, price) "
                        "VALUES (%s, %s, %s, 10.00) RETURNING product_id, md5(description)",
                        (f"large-{uuid.uuid4().hex[:8]}", description, category_id))
            product_id, description_md5 = cur.fetchone()
        for price in ("12.25", FINAL_PRICE):
            with conn, conn.cursor() as cur:
                cur.execute("UPDATE products SET price = %s WHERE product_id = %s", (price, product_id))
    finally:
        conn.close()
    return LargeProduct(product_id, description_md5, FINAL_PRICE)


def _final_update_event(bootstrap: str, topic: str, product: LargeProduct, timeout: float = 90) -> dict[str, Any]:
    reader = TopicReader(bootstrap, [topic], config={
        "max.partition.fetch.bytes": MESSAGE_MAX_BYTES, "fetch.max.bytes": CONSUMER_FETCH_MAX_BYTES,
        "receive.message.max.bytes": CONSUMER_RECEIVE_MAX_BYTES,
    })
    try:
        found = reader.collect(lambda updates: bool(updates), timeout,
                               keep=lambda message: _is_final_update(message.json_value, product))
    finally:
        reader.close()
    assert found, f"no update of product {product.product_id} to {product.price} on {topic} in {timeout:.0f}s"
    return found[0].json_value


def _is_final_update(event: dict[str, Any] | None, product: LargeProduct) -> bool:
    after = (event or {}).get("after") or {}
    return after.get("product_id") == product.product_id and after.get("price") == product.price


def test_connector_keeps_running_after_updates_of_a_5mb_row(stack_env: dict[str, str],
                                                            large_product: LargeProduct) -> None:
    settings = ConnectorSettings.from_env(stack_env)
    _final_update_event(stack_env["KAFKA_BOOTSTRAP"], KafkaSettings.from_env(stack_env).table_topic("products"),
                        large_product)

    status = ConnectClient(settings.connect_url).status(settings.name)

    assert status.describe() == f"{settings.name}: connector RUNNING, tasks [RUNNING]"


def test_update_of_a_5mb_row_reaches_the_topic_with_old_and_new_row(stack_env: dict[str, str],
                                                                   large_product: LargeProduct) -> None:
    topic = KafkaSettings.from_env(stack_env).table_topic("products")

    event = _final_update_event(stack_env["KAFKA_BOOTSTRAP"], topic, large_product)

    assert event["op"] == "u"
    assert (event["before"]["price"], event["after"]["price"]) == ("12.25", FINAL_PRICE)
    assert len(event["before"]["description"]) == len(event["after"]["description"]) == DESCRIPTION_CHARS


def test_5mb_row_reaches_the_replica_unchanged(stack_env: dict[str, str], large_product: LargeProduct,
                                               tmp_path: Path) -> None:
    with private_replica(stack_env) as env:
        process = ConsumerProcess(env, tmp_path / "consumer.log").start()
        try:
            rows = wait_for_rows(env, "SELECT price, MD5(description) FROM products WHERE product_id = %s AND price = %s",
                                 (large_product.product_id, large_product.price), 1, timeout=120)
        finally:
            process.ensure_stopped()

    assert rows == [(Decimal(FINAL_PRICE), large_product.description_md5)], process.output()[-3000:]
