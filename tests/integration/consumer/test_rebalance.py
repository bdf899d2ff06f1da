"""A rebalance while MySQL is unreachable: the consumer keeps no partition paused for good."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from consumer.settings import ConsumerSettings
from tests.support.mysql import mysql_outage_account
from tests.support.replica import wait_for_match, wait_for_zero_lag
from tests.support.source import insert_user
from tests.support.workers import ASSIGNED, ConsumerProcess

pytestmark = pytest.mark.integration


@contextmanager
def second_member(env: dict[str, str], timeout: float = 30) -> Iterator[None]:
    """Another member of the consumer's group, from its first assignment until it leaves (two rebalances)."""
    settings = ConsumerSettings.from_env(env)
    member = Consumer(settings.kafka_config())
    member.subscribe(list(settings.topics()))
    try:
        deadline = time.monotonic() + timeout
        while not member.assignment():
            assert time.monotonic() < deadline, "the second member got no partitions"
            member.consume(100, timeout=0.2)  # read and dropped, never committed
        yield
    finally:
        member.close()


def test_consumer_resumes_by_itself_after_a_rebalance_during_a_mysql_outage(
    replica: dict[str, str], tmp_path: Path
) -> None:
    with mysql_outage_account(replica) as (env, outage):
        consumer = ConsumerProcess(env, tmp_path / "consume.log").start()
        try:
            consumer.wait_for_log(ASSIGNED)
            wait_for_match(env, timeout=60)  # the session's history applied: the outage holds back one change only
            outage.begin()
            insert_user(env)  # a change it cannot write
            consumer.wait_for_log("pausing consumption")
            with second_member(env):
                consumer.wait_for_log(ASSIGNED, count=2)
            consumer.wait_for_log(ASSIGNED, count=3)  # every partition is the first member's again
            outage.end()

            wait_for_match(env, timeout=30)
            wait_for_zero_lag(env)
            assert consumer.stop() == 0, consumer.output()[-3000:]
        finally:
            consumer.ensure_stopped()
    # The outage spanned a rebalance: the batch that could not be written (the user, maybe a heartbeat) was dropped.
    assert re.search(r"revoked: abandoning \d+ uncommitted messages", consumer.output())
