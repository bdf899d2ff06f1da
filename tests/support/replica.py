"""A replica of the test's own (database, consumer group, dead-letter topic) and waiting for it to catch up."""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql
import pytest

from consumer.errors import ConsumerError
from consumer.settings import ConsumerSettings
from consumer.verify import replica_reports
from core.errors import MySqlUnavailable
from core.settings import MySqlSettings, SourceSettings
from core.verify import TableReport, render
from tests.support.kafka import group_lags
from tests.support.mysql import server_sql


@contextmanager
def private_replica(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Env for a consumer of its own: database replica_<uuid>, its own group and dead-letter topic."""
    uid = uuid.uuid4().hex[:10]
    server = MySqlSettings.from_env(stack_env)
    database = f"replica_{uid}"
    env = {
        **stack_env,
        "MYSQL_URL": server.on_database(database).to_url(),
        "CONSUMER_GROUP": f"test-replica-{uid}",
        "DEADLETTER_TOPIC": f"test.deadletter.{uid}",
        "STATS_INTERVAL": "2",
    }
    server_sql(server, f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    try:
        yield env
    finally:
        try:
            server_sql(server, f"DROP DATABASE IF EXISTS `{database}`")
        except (MySqlUnavailable, pymysql.MySQLError):
            pass  # the test's failure matters, not its leftover


@pytest.fixture
def replica(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A test's own replica database, consumer group and dead-letter topic."""
    with private_replica(stack_env) as env:
        yield env


def wait_for_match(env: dict[str, str], timeout: float = 90) -> list[TableReport]:
    """Poll the whole-source vs replica comparison until all match; assert with the rendered report."""
    source, replica = SourceSettings.from_env(env), MySqlSettings.from_env(env)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reports = replica_reports(source, replica)
        except ConsumerError:
            reports = []
        if reports and all(report.matches for report in reports):
            return reports
        if time.monotonic() >= deadline:
            raise AssertionError("replica does not match the source:\n" + render(reports))
        time.sleep(1.0)


def wait_for_zero_lag(env: dict[str, str], timeout: float = 30) -> None:
    """Until the group's committed offsets reach the end of every partition it consumes."""
    settings = ConsumerSettings.from_env(env)
    deadline = time.monotonic() + timeout
    while True:
        lagging = [lag for lag in group_lags(settings.kafka.bootstrap, settings.group_id, settings.topics())
                   if lag.lag]
        if not lagging:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"the group still lags: {lagging}")
        time.sleep(1.0)
