"""`cdc connectors apply`: idempotent, snapshots existing rows, fails with a clear message."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from core.kafka_connect import ConnectClient
from core.settings import SourceSettings
from core.source.tables import SOURCE_TABLES
from tests.support.cli import run_cdc
from tests.support.kafka import TopicReader
from tests.support.ports import free_port
from tests.support.scratch_source import row_counts

pytestmark = pytest.mark.integration


@pytest.fixture
def second_connector(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Settings for a connector of its own (name, slot, topics); removed with its slot afterwards."""
    uid = uuid.uuid4().hex[:8]
    env = {**stack_env, "CONNECTOR_NAME": f"test-{uid}", "SLOT_NAME": f"test_{uid}", "TOPIC_PREFIX": f"test{uid}"}
    yield env
    client = ConnectClient(stack_env["CONNECT_URL"])
    if env["CONNECTOR_NAME"] in client.connectors():
        client.delete(env["CONNECTOR_NAME"])
    _drop_slot(stack_env["PG_DSN"], env["SLOT_NAME"])


def _drop_slot(dsn: str, slot: str) -> None:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for _ in range(60):  # the slot stays active until the task has stopped
                cur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
                row = cur.fetchone()
                if row is None:
                    return
                if not row[0]:
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    return
                time.sleep(0.5)
    finally:
        conn.close()


def _read_ops(bootstrap: str, topics: list[str], expected: int, timeout: float = 90) -> list[tuple[str, Any]]:
    reader = TopicReader(bootstrap, topics)
    try:
        changes = reader.collect(lambda changes: len(changes) >= expected, timeout,
                                 keep=lambda message: message.value is not None)  # no tombstones
    finally:
        reader.close()
    return [(change.topic, change.json_value["op"]) for change in changes]


def _seed_some_rows(dsn: str) -> None:
    conn = psycopg2.connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (first_name, last_name, email) VALUES ('Snap', 'Shot', %s) RETURNING user_id",
                    (f"snap-{uuid.uuid4().hex}@example.com",))
        (user_id,) = cur.fetchone()
        cur.execute("INSERT INTO product_categories (name) VALUES ('Snap') RETURNING category_id")
        (category_id,) = cur.fetchone()
        cur.execute("INSERT INTO products (name, category_id, price) VALUES ('Snap', %s, 1.50) RETURNING product_id",
                    (category_id,))
        (product_id,) = cur.fetchone()
        cur.execute("INSERT INTO orders (user_id, total_amount) VALUES (%s, 3.00) RETURNING order_id", (user_id,))
        (order_id,) = cur.fetchone()
        cur.execute("INSERT INTO order_details (order_id, product_id, quantity, price_per_unit, total_price) "
                    "VALUES (%s, %s, 2, 1.50, 3.00)", (order_id, product_id))
    conn.close()


def test_new_connector_snapshots_every_existing_row_as_read_events(second_connector: dict[str, str]) -> None:
    _seed_some_rows(second_connector["PG_DSN"])
    counts = row_counts(SourceSettings(dsn=second_connector["PG_DSN"]))

    result = run_cdc("connectors", "apply", env=second_connector)

    assert result.returncode == 0, result.stderr
    assert "RUNNING" in result.stdout
    prefix = second_connector["TOPIC_PREFIX"]
    topics = [f"{prefix}.public.{table}" for table in SOURCE_TABLES]
    ops = _read_ops(second_connector["KAFKA_BOOTSTRAP"], topics, sum(counts.values()))
    received = {table: sum(1 for topic, op in ops if topic == f"{prefix}.public.{table}" and op == "r")
                for table in SOURCE_TABLES}
    assert received == counts


def test_apply_twice_keeps_one_running_connector_with_the_same_config(second_connector: dict[str, str]) -> None:
    first = run_cdc("connectors", "apply", env=second_connector)
    second = run_cdc("connectors", "apply", env=second_connector)

    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert second.stdout.startswith("unchanged; ")
    client = ConnectClient(second_connector["CONNECT_URL"])
    assert client.connectors().count(second_connector["CONNECTOR_NAME"]) == 1
    assert client.status(second_connector["CONNECTOR_NAME"]).running


def test_apply_fails_clearly_when_connect_is_unreachable(stack_env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = run_cdc("connectors", "apply", "--timeout", "2", env={**stack_env, "CONNECT_URL": url})

    assert result.returncode == 1
    assert f"error: Kafka Connect is unreachable at {url} (CONNECT_URL)" in result.stderr


def test_apply_fails_with_connects_reason_when_the_database_is_unreachable(second_connector: dict[str, str]) -> None:
    env = {**second_connector, "DEBEZIUM_PG_DSN": f"postgresql://postgres@127.0.0.1:{free_port()}/shop"}

    result = run_cdc("connectors", "apply", "--timeout", "20", env=env)

    assert result.returncode == 1
    assert "Connector configuration is invalid" in result.stderr
    assert "refused" in result.stderr


def test_status_reports_running_connector(stack_env: dict[str, str]) -> None:
    result = run_cdc("connectors", "status", env=stack_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "shop-postgres: connector RUNNING, tasks [RUNNING]"

