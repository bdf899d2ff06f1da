"""Helpers for the consumer's integration tests: a private replica database and consumer group,
the consumer as a subprocess, waiting for the replica to match, and reading a dead-letter topic."""
from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest
from confluent_kafka import Consumer, TopicPartition

from core.settings import MySqlSettings, SourceSettings
from core.verify import TableReport, render
from consumer.offsets import partition_lags
from consumer.settings import ConsumerSettings
from consumer.verify import replica_reports

REPOSITORY = Path(__file__).resolve().parents[1]  # where `python -m tests.<module>` finds the tests package


@contextmanager
def private_replica(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Env for a consumer of its own: database replica_<uuid>, its own group and dead-letter topic."""
    uid = uuid.uuid4().hex[:10]
    server = MySqlSettings.from_env(stack_env).url
    database = f"replica_{uid}"
    env = {
        **stack_env,
        "MYSQL_URL": f"mysql://{server.user}@{server.host}:{server.port}/{database}",
        "CONSUMER_GROUP": f"test-replica-{uid}",
        "DEADLETTER_TOPIC": f"test.deadletter.{uid}",
        "STATS_INTERVAL": "2",
    }
    conn = pymysql.connect(host=server.host, port=server.port, user=server.user, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    conn.close()
    try:
        yield env
    finally:
        try:
            conn = pymysql.connect(host=server.host, port=server.port, user=server.user, autocommit=True)
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            conn.close()
        except pymysql.MySQLError:
            pass


@pytest.fixture
def replica(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A test's own replica database, consumer group and dead-letter topic (import it as a fixture)."""
    with private_replica(stack_env) as env:
        yield env


@dataclass(frozen=True)
class MySqlOutage:
    """An outage of MySQL for one account only: its password changes and its connections are killed.

    Deterministic (the server stays up for everyone else), and the consumer sees what an outage looks
    like to a client: a lost connection, then access denied on every reconnect until it ends.
    """

    admin: dict[str, str]  # an env whose MYSQL_URL may alter users
    user: str
    password: str

    def begin(self) -> None:
        self._admin_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (self.user, f"locked-{uuid.uuid4().hex}"))
        for (connection,) in self._admin_sql("SELECT id FROM information_schema.processlist WHERE user = %s",
                                             (self.user,)):
            try:
                self._admin_sql(f"KILL CONNECTION {int(connection)}")
            except pymysql.MySQLError:
                pass  # it ended by itself meanwhile

    def end(self) -> None:
        self._admin_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (self.user, self.password))

    def _admin_sql(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return mysql_rows(self.admin, sql, params)


@contextmanager
def mysql_outage_account(replica_env: dict[str, str]) -> Iterator[tuple[dict[str, str], MySqlOutage]]:
    """Env whose MYSQL_URL is an account of its own on the replica database, and the outage of that account."""
    server = MySqlSettings.from_env(replica_env).url
    uid = uuid.uuid4().hex[:10]
    outage = MySqlOutage(admin=replica_env, user=f"cdc_{uid}", password=f"pw_{uid}")
    mysql_rows(replica_env, "CREATE USER %s@'%%' IDENTIFIED BY %s", (outage.user, outage.password))
    mysql_rows(replica_env, f"GRANT ALL PRIVILEGES ON `{server.database}`.* TO %s@'%%'", (outage.user,))
    url = f"mysql://{outage.user}:{outage.password}@{server.host}:{server.port}/{server.database}"
    try:
        yield {**replica_env, "MYSQL_URL": url}, outage
    finally:
        mysql_rows(replica_env, "DROP USER IF EXISTS %s@'%%'", (outage.user,))


@dataclass
class ConsumerProcess:
    """`cdc consume` as a real subprocess, its log in a file."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    command: tuple[str, ...] = ("-m", "cdc", "consume")  # the interpreter's arguments

    def start(self) -> ConsumerProcess:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, *self.command], env={**os.environ, **self.env},
                                     cwd=REPOSITORY, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def stop(self) -> int:
        """SIGTERM and the exit status (0 expected)."""
        return self.kill(signal.SIGTERM)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        """Until the log holds `text` `count` times; AssertionError with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} not {count} times in the consumer's log:\n{self.output()[-3000:]}")
            time.sleep(0.2)


def run_cdc(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cdc", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def wait_for_match(env: dict[str, str], timeout: float = 90) -> list[TableReport]:
    """Poll the whole-source vs replica comparison until all match; assert with the rendered report."""
    source, replica = SourceSettings.from_env(env), MySqlSettings.from_env(env)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reports = replica_reports(source, replica)
        except pymysql.MySQLError:
            reports = []
        if reports and all(report.matches for report in reports):
            return reports
        if time.monotonic() >= deadline:
            raise AssertionError("replica does not match the source:\n" + render(reports))
        time.sleep(1.0)


def wait_for_zero_lag(env: dict[str, str], timeout: float = 30) -> None:
    """Until the group's committed offsets reach the end of every partition it consumes."""
    settings = ConsumerSettings.from_env(env)
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": settings.group_id,
                         "enable.auto.commit": False})
    deadline = time.monotonic() + timeout
    try:
        while True:
            lagging = [lag for lag in partition_lags(consumer, settings.topics()) if lag.lag]
            if not lagging:
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"the group still lags: {lagging}")
            time.sleep(1.0)
    finally:
        consumer.close()


def mysql_rows(env: dict[str, str], sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(**MySqlSettings.from_env(env).connect_kwargs(), charset="utf8mb4")  # type: ignore[arg-type]
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def wait_for_rows(env: dict[str, str], sql: str, params: tuple[Any, ...], count: int,
                  timeout: float = 60) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = mysql_rows(env, sql, params)
        except pymysql.MySQLError:
            rows = []
        if len(rows) == count or time.monotonic() >= deadline:
            return rows
        time.sleep(0.3)


@dataclass(frozen=True)
class Letter:
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


def read_dead_letters(bootstrap: str, topic: str, keys: set[bytes], timeout: float = 60) -> list[Letter]:
    """Read the dead-letter topic from the start until letters with all these message keys arrived.

    Only those are returned: a consumer reading from the earliest offset also
    dead-letters what other tests of the session put on the shared topics.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-dlq-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    letters: list[Letter] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not keys <= {letter.key for letter in letters}:
            if not consumer.assignment():
                topics = consumer.list_topics(timeout=10).topics
                if topic not in topics:
                    time.sleep(0.5)
                    continue
                consumer.assign([TopicPartition(topic, p, 0) for p in topics[topic].partitions])
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None:
                    headers = {k: v.decode() for k, v in (message.headers() or [])}
                    if message.key() in keys:
                        letters.append(Letter(message.key(), message.value(), headers))
    finally:
        consumer.close()
    return letters


_next_lsn = itertools.count(time.time_ns() // 1000)  # increasing across a test session, like the WAL


def envelope(table: str, op: str, before: Any, after: Any, lsn: int | None = None) -> bytes:
    """A Debezium-shaped value; `lsn` (source.lsn) defaults to the next of an increasing counter."""
    source = {"table": table, "lsn": next(_next_lsn) if lsn is None else lsn}
    return json.dumps({"op": op, "before": before, "after": after, "source": source,
                       "ts_ms": int(time.time() * 1000)}).encode()
