"""`cdc marts` as real subprocesses against the real stack: the marts converge to their definitions.

Each test has its own MySQL database and consumer group (MARTS_APP_ID) and
reads the topics from the earliest offset, so the marts must equal the
definitions over the whole (shared) source database once the generator
stops and the worker has drained the topics.
"""
from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from confluent_kafka import Producer

from core.settings import MySqlSettings
from tests.support.cli import finish_live_load, run_cdc, start_live_load, start_module
from tests.support.kafka import read_dead_letters
from tests.support.marts import converged
from tests.support.mysql import server_sql
from tests.support.stack import on_both_servers
from tests.support.workers import KILL_AFTER_COMMIT

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def seeded(stack_env: dict[str, str]) -> dict[str, str]:
    result = run_cdc("generate", "seed", "--append", "--users", "100", "--categories", "8", "--products", "60",
                     "--orders", "400", "--seed", "5", env=stack_env, timeout=120)
    assert result.returncode == 0, result.stderr
    return stack_env


@pytest.fixture
def env(seeded: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"marts_{uuid.uuid4().hex[:12]}"
    server = MySqlSettings.from_env(seeded)
    own = {
        **os.environ, **seeded,
        "MYSQL_URL": server.on_database(name).to_url(),
        "MARTS_APP_ID": f"test-{name}",
        "MARTS_DATA_DIR": str(tmp_path / "data"),
        "MARTS_SESSION_TIMEOUT": "4",
        "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.{name}",
    }
    yield own
    server_sql(server, f"DROP DATABASE IF EXISTS `{name}`")


class Worker:
    def __init__(self, env: dict[str, str], log: Path, module: str = "cdc") -> None:
        self.log = log
        self.process = start_module(module, "marts", env=env, log=log)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.stop(signal.SIGKILL)


def start(workers: list[Worker], env: dict[str, str], tmp_path: Path, module: str = "cdc") -> Worker:
    worker = Worker(env, tmp_path / f"worker-{len(workers)}.log", module)
    workers.append(worker)
    return worker


def logs(workers: list[Worker]) -> str:
    return "\n".join(worker.log.read_text(errors="replace") for worker in workers)


@on_both_servers
def test_one_worker_converges_under_live_load_and_stops_cleanly_on_sigterm(
    env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    worker = start(workers, env, tmp_path)
    finish_live_load(start_live_load(env, seed=101))
    reports = converged(env)
    assert all(report.source_rows > 0 for report in reports)
    assert worker.stop(signal.SIGTERM) == 0, logs(workers)[-3000:]
    assert "Traceback" not in logs(workers)


def test_a_worker_sigkilled_mid_stream_and_restarted_counts_nothing_twice(
    env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    first = start(workers, env, tmp_path)
    generator = start_live_load(env, seed=202, duration=14)
    time.sleep(8)
    first.stop(signal.SIGKILL)
    # The worst case of a crash: Kafka kept no committed offset at all (a new
    # consumer group). The worker starts from the positions stored in MySQL
    # with the marts, so what the first worker applied is neither lost nor counted twice.
    start(workers, {**env, "MARTS_APP_ID": env["MARTS_APP_ID"] + "-restarted"}, tmp_path)
    finish_live_load(generator)
    converged(env)


def test_a_second_worker_on_the_same_marts_waits_as_a_standby_and_the_result_is_the_same(
    env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    start(workers, env, tmp_path)
    start(workers, env, tmp_path)
    finish_live_load(start_live_load(env, seed=303))
    converged(env)
    assert all(worker.process.poll() is None for worker in workers), logs(workers)[-3000:]
    # Whole transactions need every partition: the second never joins the group (core.leader).
    assert logs(workers).count("core.leader: standby: another marts worker is active") == 1


def test_a_malformed_message_is_dead_lettered_and_the_marts_still_converge(
    env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    key = f'{{"order_id": {uuid.uuid4().int % 10**9 + 10**9}}}'.encode()
    producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP"]})
    producer.produce("shop.public.orders", key=key, value=b"{not json", partition=1)
    assert producer.flush(30) == 0
    start(workers, env, tmp_path)
    finish_live_load(start_live_load(env, seed=404, duration=5))
    converged(env)
    [letter] = read_dead_letters(env["KAFKA_BOOTSTRAP"], env["MARTS_DEADLETTER_TOPIC"], {key})
    assert letter.value == b"{not json"
    assert letter.headers["cdc.stage"] == "decode" and letter.headers["cdc.error"].startswith("value is not JSON")
    assert (letter.headers["cdc.source.topic"], letter.headers["cdc.source.partition"]) == ("shop.public.orders", "1")
    assert f"shop.public.orders[1]@{letter.headers['cdc.source.offset']}" in logs(workers)


def stored_offsets(env: dict[str, str]) -> dict[tuple[str, int], int]:
    conn = pymysql.connect(**MySqlSettings.from_env(env).connect_kwargs())
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT topic, partition_id, last_offset FROM mart_offsets")
            return {(topic, partition): offset for topic, partition, offset in cur.fetchall()}
    finally:
        conn.close()


@on_both_servers
def test_a_kill_right_after_a_batch_commits_in_mysql_loses_and_double_counts_nothing(
    env: dict[str, str], workers: list[Worker], tmp_path: Path
) -> None:
    report = tmp_path / "killed-batch.json"
    killing = {**env, "MARTS_BATCH_SIZE": "20", "CDC_TEST_KILL_AFTER_BATCH": "3", "CDC_TEST_KILL_REPORT": str(report)}
    killed = start(workers, killing, tmp_path, module=KILL_AFTER_COMMIT)
    assert killed.process.wait(timeout=120) == -signal.SIGKILL, killed.log.read_text()[-3000:]
    stored = stored_offsets(env)
    killed_batch = json.loads(report.read_text())
    assert killed_batch and all(stored[(topic, partition)] >= offset for topic, partition, offset in killed_batch)
    start(workers, env, tmp_path)  # same app id: Faust never acknowledged the killed batch
    converged(env)
