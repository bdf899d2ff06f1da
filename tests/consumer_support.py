"""Helpers for the consumer's integration tests: a private replica database and consumer group,
the consumer as a subprocess, waiting for the replica to match, and reading a dead-letter topic."""
from __future__ import annotations

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

from cdc.settings import MySqlSettings, SourceSettings
from cdc.verify import TableReport, render
from consumer.verify import replica_reports


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


@dataclass
class ConsumerProcess:
    """`cdc consume` as a real subprocess, its log in a file."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ConsumerProcess:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "cdc", "consume"], env={**os.environ, **self.env},
                                     stdout=out, stderr=subprocess.STDOUT)
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


def envelope(table: str, op: str, before: Any, after: Any) -> bytes:
    return json.dumps({"op": op, "before": before, "after": after, "source": {"table": table},
                       "ts_ms": int(time.time() * 1000)}).encode()
