"""core.leader against the stack's real MySQL server: who holds a stage's lock when connections break.

Each test uses a database of its own (the lock's name holds it). The
workers' tests run `cdc consume` / `cdc marts` as real processes: the first
holds the lock, the second waits as a standby; then the first's lock
connection is killed on the server, the standby takes the lock at once, and
the first must stop (exit 1) rather than go on writing beside it.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.leader import Leadership
from core.mysql import fetch_all
from core.settings import MySqlSettings
from tests.support.mysql import server_sql
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

ACTIVE = "core.leader: active: took the lock"
STANDBY = "core.leader: standby: another"
NOTICED = 5.0  # seconds: the watchdog checks every second


@pytest.fixture
def database(stack_env: dict[str, str]) -> Iterator[MySqlSettings]:
    server = MySqlSettings.from_env(stack_env)
    name = f"leader_{uuid.uuid4().hex[:12]}"
    server_sql(server, f"CREATE DATABASE `{name}`")
    yield server.on_database(name)
    server_sql(server, f"DROP DATABASE IF EXISTS `{name}`")


def holder(mysql: MySqlSettings, name: str) -> int | None:
    [(connection,)] = fetch_all(mysql, "SELECT IS_USED_LOCK(%s)", (name,))
    return None if connection is None else int(connection)


def kill_holder(mysql: MySqlSettings, name: str) -> int:
    connection = holder(mysql, name)
    assert connection is not None, f"nobody holds {name}"
    server_sql(mysql, f"KILL CONNECTION {connection}")
    return connection


def until(condition: object, timeout: float = NOTICED) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_an_active_instance_whose_lock_connection_broke_takes_the_lock_again(database: MySqlSettings) -> None:
    leader = Leadership(database, "replica", "consumer")
    assert leader.acquire(threading.Event())
    try:
        killed = kill_holder(database, leader.name)

        assert until(lambda: holder(database, leader.name) not in (None, killed))
        assert not leader.lost.is_set()
    finally:
        leader.release()


def test_a_standby_takes_the_lock_the_moment_the_holder_is_gone_and_the_holder_learns_it(
        database: MySqlSettings) -> None:
    active, standby = Leadership(database, "marts", "marts"), Leadership(database, "marts", "marts")
    assert active.acquire(threading.Event())
    took: list[float] = []
    waiting = threading.Thread(target=lambda: took.append(standby.acquire(threading.Event()) and time.monotonic()))
    waiting.start()
    try:
        time.sleep(1.5)  # blocked in GET_LOCK
        kill_holder(database, active.name)
        killed = time.monotonic()
        waiting.join(timeout=10)

        assert took and took[0] - killed < 1.0
        assert until(active.lost.is_set)
    finally:
        waiting.join(timeout=10)
        active.release()
        standby.release()


def test_a_released_lock_is_free(database: MySqlSettings) -> None:
    leader = Leadership(database, "replica", "consumer")
    assert leader.acquire(threading.Event())
    leader.release()

    assert until(lambda: holder(database, leader.name) is None)


WORKERS = {"consumer": ("consume",), "marts": ("marts",)}


def worker(stack_env: dict[str, str], database: MySqlSettings, tmp_path: Path, name: str,
           number: int) -> ConsumerProcess:
    tag = database.url.database
    env = {**stack_env, "MYSQL_URL": database.to_url(), "METRICS_PORT": "0", "MARTS_METRICS_PORT": "0",
           "CONSUMER_GROUP": f"test-{tag}", "MARTS_APP_ID": f"test-{tag}", "MARTS_SESSION_TIMEOUT": "4",
           "DEADLETTER_TOPIC": f"test.deadletter.{tag}", "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.{tag}",
           "CONSUMER_HEALTH_FILE": str(tmp_path / f"{number}.json"), "MARTS_HEALTH_FILE": str(tmp_path / f"{number}.json"),
           "MARTS_DATA_DIR": str(tmp_path / f"data-{number}")}
    return ConsumerProcess(env, tmp_path / f"{name}-{number}.log", args=WORKERS[name]).start()


@pytest.mark.parametrize("name", list(WORKERS))
def test_a_worker_that_lost_its_lock_to_the_standby_stops_with_exit_1(
        stack_env: dict[str, str], database: MySqlSettings, tmp_path: Path, name: str) -> None:
    first = worker(stack_env, database, tmp_path, name, 1)
    second: ConsumerProcess | None = None
    try:
        first.wait_for_log(ACTIVE)
        second = worker(stack_env, database, tmp_path, name, 2)
        second.wait_for_log(STANDBY)
        first.wait_for_log("consuming " if name == "consumer" else "marts worker")
        kill_holder(database, f"cdc:{'replica' if name == 'consumer' else 'marts'}:{database.url.database}")

        assert first.proc is not None and first.proc.wait(timeout=60) == 1, first.output()[-3000:]
        assert f"another {name} worker took the lock" in first.output()
        second.wait_for_log(ACTIVE)
    finally:
        first.ensure_stopped()
        if second is not None:
            second.ensure_stopped()
