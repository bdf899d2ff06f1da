"""A recreated source topic stops the marts worker loudly; `--adopt-topics` is the way on.

The topics here are the test's own (a unique TOPIC_PREFIX), filled by hand
with Debezium-shaped events, so deleting one disturbs no other test.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from consumer.offsets import PartitionLag
from core.generations import record_ids
from core.settings import MySqlSettings
from core.topic_names import source_topics, table_topic
from core.topics import ensure_topics
from marts import generations
from marts.definitions import USER_ACTIVITY
from marts.errors import TopicsRecreated
from marts.schema import OFFSETS, TOPICS, connect, ensure_schema
from marts.verify import mart_rows
from tests.support.cli import start_cdc
from tests.support.kafka import group_lags
from tests.support.mysql import server_sql, wait_for_rows

pytestmark = pytest.mark.integration


@pytest.fixture
def env(stack_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    uid = uuid.uuid4().hex[:10]
    server = MySqlSettings.from_env(stack_env)
    database = f"marts_gen_{uid}"
    own = {**os.environ, **stack_env, "TOPIC_PREFIX": f"gen{uid}", "MARTS_APP_ID": f"test-gen-{uid}",
           "MYSQL_URL": server.on_database(database).to_url(),
           "MARTS_DATA_DIR": str(tmp_path / "data"), "MARTS_SESSION_TIMEOUT": "4",
           "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.gen{uid}"}
    ensure_topics(own["KAFKA_BOOTSTRAP"], source_topics(own["TOPIC_PREFIX"]), 4, 1)
    yield own
    server_sql(server, f"DROP DATABASE IF EXISTS `{database}`")


def produce(env: dict[str, str], table: str, row: dict[str, object]) -> None:
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    key = next(iter(row.values()))
    value = {"op": "c", "before": None, "after": row,
             "source": {"table": table, "ts_ms": int(time.time() * 1000), "lsn": time.time_ns() // 1000}}
    producer.produce(f"{env['TOPIC_PREFIX']}.public.{table}", key=json.dumps({"id": key}).encode(),
                     value=json.dumps(value).encode(), partition=0)
    producer.flush(10)


def recreate(env: dict[str, str], topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    admin.delete_topics([topic])[topic].result(15)
    time.sleep(1.0)
    ensure_topics(env["KAFKA_BOOTSTRAP"], [topic], 4, 1)


def marts(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[str]:
    return start_cdc("marts", *args, env=env, log=log)


def committed(env: dict[str, str]) -> list[PartitionLag]:
    """The marts group's committed offsets on the orders topic (for a failure's message)."""
    return group_lags(env["KAFKA_BOOTSTRAP"], env["MARTS_APP_ID"], [table_topic(env["TOPIC_PREFIX"], "orders")])


def order(order_id: int, amount: str) -> dict[str, object]:
    return {"order_id": order_id, "user_id": 1, "status": "paid", "total_amount": amount}


def test_a_recreated_topic_stops_the_worker_and_adopting_it_applies_the_new_topic_from_its_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "marts.log"
    produce(env, "users", {"user_id": 1, "first_name": "Ann", "last_name": "Lee"})
    produce(env, "orders", order(10, "7.50"))
    worker = marts(env, log=log)
    try:
        rows = wait_for_rows(env, "SELECT order_count FROM user_activity", (), 1)
        assert rows == [(1,)], log.read_text()
        recreate(env, f"{env['TOPIC_PREFIX']}.public.orders")
        assert worker.wait(timeout=60) != 0
    finally:
        worker.kill()
        worker.wait()
    assert "source topics were recreated" in log.read_text()

    again = marts(env, log=log)
    assert again.wait(timeout=60) == 1
    assert log.read_text().count("--adopt-topics") >= 2

    assert marts(env, "--adopt-topics", log=log).wait(timeout=60) == 0
    produce(env, "orders", order(11, "2.50"))  # offset 0 of the new topic: below the old stored offset
    worker = marts(env, log=log)
    try:
        rows = wait_for_rows(env, "SELECT order_count FROM user_activity", (), 1)
        deadline = time.monotonic() + 60
        while rows != [(2,)] and time.monotonic() < deadline:
            time.sleep(0.5)
            rows = wait_for_rows(env, "SELECT order_count FROM user_activity", (), 1)
        assert mart_rows(MySqlSettings.from_env(env), USER_ACTIVITY) == [
            (1, "paid", "Ann", "Lee", 2, Decimal("10.00"))], (
            wait_for_rows(env, "SELECT * FROM mart_offsets", (), 99, timeout=0), committed(env))
    finally:
        worker.terminate()
        worker.wait(timeout=60)


@pytest.fixture
def marts_db(stack_env: dict[str, str]) -> Iterator[MySqlSettings]:
    """A marts schema of the test's own, with topic t recorded under the id "id-1"."""
    mysql = MySqlSettings.from_env(stack_env).on_database(f"marts_genlock_{uuid.uuid4().hex[:10]}")
    ensure_schema(mysql)
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            record_ids(cur, TOPICS, {"t": "id-1"})
        conn.commit()
    finally:
        conn.close()
    yield mysql
    server_sql(mysql, f"DROP DATABASE IF EXISTS `{mysql.url.database}`")


def save_offset(cur: Any, offset: int) -> None:
    cur.execute(f"INSERT INTO {OFFSETS} (topic, partition_id, last_offset, applied_at)"
                " VALUES ('t', 0, %s, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE last_offset = VALUES(last_offset)",
                (offset,))


def test_the_topic_id_check_does_not_wait_for_the_offsets_a_batch_is_writing(marts_db: MySqlSettings) -> None:
    # Marts sessions are SERIALIZABLE, where a plain read locks what it reads: the periodic check's scan of the
    # offsets then waited for a batch's uncommitted offsets and, when each held what the other wanted, deadlocked.
    batch = connect(marts_db)
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            with batch.cursor() as cur:
                save_offset(cur, 5)
                batch.commit()
                save_offset(cur, 6)  # uncommitted

            check = pool.submit(generations.check, marts_db, {"t": "id-1"})

            assert check.result(timeout=5) is None
        finally:
            batch.rollback()
            batch.close()


def test_a_topic_recreated_while_a_batch_writes_its_first_offsets_from_the_old_one_stops_the_worker(
        marts_db: MySqlSettings) -> None:
    batch = connect(marts_db)
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            with batch.cursor() as cur:
                save_offset(cur, 5)  # the first offsets from topic t as "id-1", uncommitted
            check = pool.submit(generations.check, marts_db, {"t": "id-2"})  # t is now another topic
            time.sleep(1.0)  # the check waits for the batch
            batch.commit()

            with pytest.raises(TopicsRecreated, match="id-1 -> id-2"):
                check.result(timeout=15)
        finally:
            batch.rollback()
            batch.close()
