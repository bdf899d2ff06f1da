"""A truncate consumed out of source order across partitions wipes exactly the rows written before it."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from core.topic_names import source_topics
from core.topics import ensure_topics
from tests.support.debezium import envelope, produce_schema_baselines
from tests.support.mysql import mysql_rows, wait_for_rows
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

TRUNCATE_LSN = 2_000


@pytest.fixture
def private_topics(replica: dict[str, str]) -> dict[str, str]:
    """The replica's env with a topic prefix of its own: 4-partition topics no other test writes to."""
    prefix = f"trunc{uuid.uuid4().hex[:8]}"
    ensure_topics(replica["KAFKA_BOOTSTRAP"], source_topics(prefix), partitions=4, replication_factor=1)
    produce_schema_baselines(replica["KAFKA_BOOTSTRAP"], prefix)
    return {**replica, "TOPIC_PREFIX": prefix}


@pytest.fixture
def consumer(private_topics: dict[str, str], tmp_path: Path) -> Iterator[ConsumerProcess]:
    process = ConsumerProcess(private_topics, tmp_path / "consume.log").start()
    yield process
    process.ensure_stopped()


def category(category_id: int) -> dict[str, Any]:
    return {"category_id": category_id, "name": f"category {category_id}", "parent_category_id": None}


def insert(category_id: int, lsn: int) -> tuple[bytes, bytes]:
    return (json.dumps({"category_id": category_id}).encode(),
            envelope("product_categories", "c", None, category(category_id), lsn=lsn))


def produce(env: dict[str, str], partition: int, *messages: tuple[bytes | None, bytes]) -> None:
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    for key, value in messages:
        producer.produce(f"{env['TOPIC_PREFIX']}.public.product_categories", key=key, value=value,
                         partition=partition)
    assert producer.flush(30) == 0


def category_ids(env: dict[str, str]) -> list[int]:
    return [key for (key,) in mysql_rows(env, "SELECT category_id FROM product_categories ORDER BY category_id")]


def test_truncate_consumed_out_of_order_keeps_exactly_the_rows_written_after_it(
    private_topics: dict[str, str], consumer: ConsumerProcess
) -> None:
    env = private_topics
    # Consumed before the truncate: one row written before it (lsn 1000), one after it (lsn 3000).
    produce(env, 0, insert(1, 1_000))
    produce(env, 1, insert(2, 3_000))
    assert len(wait_for_rows(env, "SELECT category_id FROM product_categories", (), 2)) == 2
    produce(env, 0, (None, envelope("product_categories", "t", None, None, lsn=TRUNCATE_LSN)))
    assert wait_for_rows(env, "SELECT category_id FROM product_categories WHERE category_id = 1", (), 0) == []
    # Consumed after the truncate: a row written before it (lsn 1500), then one written after it (lsn 2500)
    # on the same partition, whose arrival shows the earlier one was handled.
    produce(env, 2, insert(3, 1_500), insert(4, 2_500))
    assert wait_for_rows(env, "SELECT category_id FROM product_categories WHERE category_id = 4", (), 1) == [(4,)]
    assert category_ids(env) == [2, 4]
