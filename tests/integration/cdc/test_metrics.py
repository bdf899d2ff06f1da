"""The metrics endpoints of the consumer, the marts worker and `cdc exporter`, scraped under a live load.

How the lag gauges are checked against an end-to-end probe: a probe transaction (a new user and one order) is
committed in the source between the times `before` and `after` (Debezium's source.ts_ms of its changes lies
between them: same host, same clock). As soon as its row is visible in MySQL the endpoint is scraped (between
`start` and `end`). The worker's last applied source commit time C is then at least the probe's, less 1 ms (its
batch is committed; under live load a transaction after the probe in the WAL may carry a commit time a little
before the probe's, as PostgreSQL takes commit times before it settles the WAL's order) and at most `end`; the
lag gauge is now - C at serving time, so it lies in [start - C, end - C]; and the probe's own age at the scrape,
end - before, exceeds the gauge by C - before + (end - serve time): at most the probe's commit-to-visible latency
plus the scrape's duration. The test asserts that this difference is within [C - before, 1 s] (1 ms of rounding
allowed), i.e. that the gauge agrees with the probe within a second.
"""
from __future__ import annotations

import math
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pymysql
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc.local.ports import reserve
from core.mysql import connect as mysql_connect
from core.settings import MySqlSettings
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.mysql import server_sql
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

CATCH_UP_SECONDS = 180.0
AGREEMENT_SECONDS = 1.0
HEARTBEAT_WAIT_SECONDS = 30.0  # Debezium writes the heartbeat table every 10 s
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True)
class Scrape:
    samples: Samples
    start: float
    end: float

    def value(self, name: str, **labels: str) -> float:
        return self.samples[(name, tuple(sorted(labels.items())))]

    def total(self, name: str) -> float:
        return sum(value for (sample, _), value in self.samples.items() if sample == name)


def scrape(url: str) -> Scrape:
    start = time.time()
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    end = time.time()
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(body) for sample in family.samples}
    return Scrape(samples, start, end)


@dataclass(frozen=True)
class Probe:
    user_id: int
    before: float  # just before the source commit
    after: float  # just after it


def commit_probe(pg_dsn: str) -> Probe:
    """A new user with one paid order, in one source transaction."""
    conn = psycopg2.connect(pg_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO users (first_name, last_name, email) VALUES ('Probe', 'Metrics', %s) "
                        "RETURNING user_id", (f"probe-{uuid.uuid4().hex}@example.com",))
            user_id = int(cur.fetchone()[0])
            cur.execute("INSERT INTO orders (user_id, total_amount, status) VALUES (%s, 1.00, 'paid')", (user_id,))
        before = time.time()
        conn.commit()
        after = time.time()
    finally:
        conn.close()
    return Probe(user_id, before, after)


def wait_until_visible(mysql: MySqlSettings, sql: str, user_id: int, timeout: float) -> None:
    conn = mysql_connect(mysql)
    deadline = time.monotonic() + timeout
    try:
        while True:
            conn.commit()  # a new snapshot for each look
            with conn.cursor() as cur:
                try:
                    if cur.execute(sql, (user_id,)):
                        return
                except pymysql.MySQLError:  # the worker has not created its tables yet
                    pass
            assert time.monotonic() < deadline, f"user {user_id} not visible in {mysql.url.database} in {timeout} s"
            time.sleep(0.01)
    finally:
        conn.close()


def scrape_after(url: str, stage: str, probe: Probe) -> Scrape:
    """The first scrape whose last applied source commit is not older than the probe's (its batch's metrics
    are recorded just after the MySQL commit that made it visible)."""
    deadline = time.monotonic() + AGREEMENT_SECONDS
    while True:
        result = scrape(url)
        if result.value("cdc_source_commit_timestamp_seconds", stage=stage) >= probe.before - 0.001:
            return result
        assert time.monotonic() < deadline, f"{stage}: the probe is visible but the commit time did not reach it"


def assert_lag_agrees_with_probe(result: Scrape, lag: float, stage: str, probe: Probe) -> None:
    commit = result.value("cdc_source_commit_timestamp_seconds", stage=stage)
    assert probe.before - 0.001 <= commit <= result.end
    assert result.start - commit - 0.001 <= lag <= result.end - commit + 0.001
    probe_age = result.end - probe.before
    assert commit - probe.before - 0.001 <= probe_age - lag <= AGREEMENT_SECONDS, (probe_age, lag)


REPLICA_SQL = "SELECT 1 FROM users WHERE user_id = %s"
MARTS_SQL = "SELECT 1 FROM user_activity WHERE user_id = %s"


@dataclass(frozen=True)
class Pipeline:
    env: dict[str, str]
    replica: MySqlSettings
    marts: MySqlSettings
    consumer_url: str
    marts_url: str
    exporter_url: str

    def probe_both(self, timeout: float) -> tuple[Probe, Scrape, Scrape]:
        probe = commit_probe(self.env["PG_DSN"])
        wait_until_visible(self.replica, REPLICA_SQL, probe.user_id, timeout)
        consumer = scrape_after(self.consumer_url, "replica", probe)
        wait_until_visible(self.marts, MARTS_SQL, probe.user_id, timeout)
        marts = scrape_after(self.marts_url, "marts", probe)
        return probe, consumer, marts


@pytest.fixture(scope="module")
def seeded(stack_env: dict[str, str]) -> dict[str, str]:
    """Rows for the live generator (appended: other tests' rows stay)."""
    result = run_cdc("generate", "seed", "--append", "--users", "40", "--categories", "6",
                     "--products", "30", "--orders", "100", "--seed", "29", env=stack_env)
    assert result.returncode == 0, result.stderr
    return stack_env


@pytest.fixture
def pipeline(seeded: dict[str, str], tmp_path: Path) -> Iterator[Pipeline]:
    stack_env = seeded
    with private_replica(stack_env) as replica_env:
        server = MySqlSettings.from_env(stack_env)
        marts_db = f"marts_{uuid.uuid4().hex[:12]}"
        consumer_port, marts_port = reserve(tmp_path), reserve(tmp_path)
        marts_env = {**stack_env, "MYSQL_URL": server.on_database(marts_db).to_url(),
                     "MARTS_APP_ID": f"test-{marts_db}", "MARTS_DATA_DIR": str(tmp_path / "marts-data"),
                     "MARTS_SESSION_TIMEOUT": "4", "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.{marts_db}",
                     "MARTS_METRICS_PORT": str(marts_port)}
        consumer = ConsumerProcess({**replica_env, "METRICS_PORT": str(consumer_port)}, tmp_path / "consume.log")
        marts = ConsumerProcess(marts_env, tmp_path / "marts.log", args=("marts",))
        try:
            consumer.start()
            marts.start()
            yield Pipeline(stack_env, MySqlSettings.from_env(replica_env), MySqlSettings.from_env(marts_env),
                           f"http://127.0.0.1:{consumer_port}/metrics", f"http://127.0.0.1:{marts_port}/metrics",
                           stack_env["EXPORTER_METRICS_URL"])
            assert consumer.stop() == 0, consumer.output()[-3000:]
            assert marts.stop() == 0, marts.output()[-3000:]
        finally:
            consumer.ensure_stopped()
            marts.ensure_stopped()
            server_sql(server, f"DROP DATABASE IF EXISTS `{marts_db}`")


COUNTED = ("cdc_changes_applied_total", "cdc_batches_total", "cdc_commit_to_apply_seconds_count")


def increased(before: Scrape, after: Scrape, stage: str) -> dict[str, bool]:
    return {name: after.value(name, stage=stage) > before.value(name, stage=stage) for name in COUNTED}


def dead_letters(metrics: Scrape, stage: str) -> float:
    return metrics.value("cdc_dead_letters_total", stage=stage)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_worker_lag_gauges_agree_with_an_end_to_end_probe_under_live_load(pipeline: Pipeline) -> None:
    pipeline.probe_both(CATCH_UP_SECONDS)  # both workers have read the shared topics' history
    first_consumer, first_marts = scrape(pipeline.consumer_url), scrape(pipeline.marts_url)
    generator = start_live_load(pipeline.env, seed=23, duration=12, rate=40)
    try:
        time.sleep(3)
        probe, consumer, marts = pipeline.probe_both(timeout=30)
    finally:
        finish_live_load(generator)

    assert_lag_agrees_with_probe(consumer, consumer.value("cdc_replica_lag_seconds"), "replica", probe)
    for mart in ("user_activity", "sales_by_category"):
        assert_lag_agrees_with_probe(marts, marts.value("cdc_mart_freshness_seconds", mart=mart), "marts", probe)
    assert increased(first_consumer, consumer, "replica") == dict.fromkeys(COUNTED, True)
    assert increased(first_marts, marts, "marts") == dict.fromkeys(COUNTED, True)
    assert (consumer.value("cdc_paused", stage="replica"), marts.value("cdc_paused", stage="marts")) == (0, 0)
    # None during the live load. Counted from the first scrape, not from zero: the shared topics' history may hold
    # other modules' bad messages (consumer/test_poison.py, consumer/test_edge_values.py, marts/test_worker.py write
    # some), dead-lettered while catching up; the probe is applied only once those are read (the seed's orders
    # come after them in every partition).
    assert (dead_letters(consumer, "replica") - dead_letters(first_consumer, "replica"),
            dead_letters(marts, "marts") - dead_letters(first_marts, "marts")) == (0, 0)
    assert consumer.total("cdc_consumer_lag_messages") >= 0 and any(
        name == "cdc_consumer_lag_messages" and dict(labels)["topic"] == "shop.public.orders"
        for name, labels in consumer.samples)


def test_heartbeats_keep_the_lag_current_while_the_source_is_idle(pipeline: Pipeline) -> None:
    pipeline.probe_both(CATCH_UP_SECONDS)
    idle_since = time.time()

    def heartbeat_applied(url: str, stage: str) -> bool:
        return scrape(url).value("cdc_source_commit_timestamp_seconds", stage=stage) > idle_since

    wait_for(lambda: heartbeat_applied(pipeline.consumer_url, "replica"), HEARTBEAT_WAIT_SECONDS,
             "no change committed after the probe reached the replica's metrics (Debezium heartbeat)")
    wait_for(lambda: heartbeat_applied(pipeline.marts_url, "marts"), HEARTBEAT_WAIT_SECONDS,
             "no change committed after the probe reached the marts' metrics (Debezium heartbeat)")
    lag = scrape(pipeline.consumer_url).value("cdc_replica_lag_seconds")
    assert not math.isnan(lag) and lag < 12.0


def test_exporter_reports_the_slot_and_the_running_connector(stack_env: dict[str, str]) -> None:
    result = scrape(stack_env["EXPORTER_METRICS_URL"])
    assert (result.value("cdc_slot_active", slot="cdc_shop"),
            result.value("cdc_connector_state", connector="shop-postgres", state="RUNNING"),
            result.value("cdc_connector_state", connector="shop-postgres", state="FAILED"),
            result.value("cdc_connector_task_state", connector="shop-postgres", task="0", state="RUNNING"),
            result.value("cdc_exporter_scrape_errors_total", source="postgres"),
            result.value("cdc_exporter_scrape_errors_total", source="connect")) == (1, 1, 0, 1, 0, 0)
    assert result.value("cdc_slot_retained_wal_bytes", slot="cdc_shop") >= 0
