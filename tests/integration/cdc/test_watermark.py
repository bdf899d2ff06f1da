"""cdc_watermark tells which source commit each stage's tables show, under load and while the shop is idle.

A connector of the module's own (its own slot and topics, the project's configuration with a heartbeat
every second instead of every ten) feeds both workers, which write one database of their own. A logical
slot of the test's own (test_decoding), made before the connector, records every source transaction from
then on: its xid, its commit LSN and the tables it wrote. The stages' watermark rows are sampled while
`cdc generate live` runs and then while nothing but Debezium's heartbeat.action.query writes the source.

What is asserted, for every sampled row of either stage:
- source_lsn is the commit LSN of source_txid: the LSN test_decoding gives its COMMIT (the end of the
  commit record), and the id of Debezium's END event of that transaction on the transaction topic;
- source_commit_time equals pg_xact_commit_timestamp(source_txid) to the microsecond: pgoutput hands
  Debezium the commit record's timestamp (source.ts_us), the very value track_commit_timestamp keeps for
  the xid, and DATETIME(6) keeps microseconds;
- a stage's row never moves back, moves many times under load and, with no source traffic but the
  heartbeat (the slot shows it), keeps moving with source_commit_time close to now.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from connectors.apply import apply_connector
from connectors.settings import ConnectorSettings
from connectors.template import render
from core.kafka_connect import ConnectClient
from core.topic_names import HEARTBEAT_TABLE, transaction_topic
from core.topics import ensure_source_topics
from core.watermark import MARTS_STAGE, REPLICA_STAGE, WATERMARK_TABLE
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.kafka import TopicReader
from tests.support.mysql import mysql_rows
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

HEARTBEAT_MS = 1000
STAGES = (REPLICA_STAGE, MARTS_STAGE)
LOAD_SECONDS = 6.0
LOAD_RATE = 30  # shop transactions a second
IDLE_SECONDS = 6.0
SAMPLE_SECONDS = 0.2
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Mark:
    """A stage's cdc_watermark row as sampled."""

    stage: str
    lsn: int
    xid: int
    commit_time: datetime | None
    applied_at: datetime


@dataclass(frozen=True)
class Committed:
    """A source transaction as the test's own slot decoded it."""

    xid: int
    commit_lsn: int
    tables: frozenset[str]


@dataclass(frozen=True)
class Observed:
    under_load: list[Mark]
    idle: list[Mark]
    idle_ended: datetime  # when the sampling at idle ended, naive UTC (as DATETIME(6) holds it)
    committed: dict[int, Committed]  # by xid, every source transaction since the module began
    idle_xids: set[int]  # the source transactions committed while sampling at idle
    ends: dict[int, int]  # xid -> the LSN in Debezium's END event
    commit_times: dict[int, datetime]  # xid -> pg_xact_commit_timestamp, naive UTC


def pg(dsn: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def decoded_commits(dsn: str, slot: str) -> dict[int, Committed]:
    """Every transaction the slot has seen: xid, the LSN of its COMMIT, the tables it wrote."""
    tables: dict[int, set[str]] = {}
    commits: dict[int, Committed] = {}
    for lsn, xid, data in pg(dsn, "SELECT lsn - '0/0'::pg_lsn, xid::text::bigint, data"
                                  " FROM pg_logical_slot_peek_changes(%s, NULL, NULL)", (slot,)):
        if data.startswith("table "):
            tables.setdefault(xid, set()).add(data.split(":", 1)[0].removeprefix("table "))
        elif data.startswith("COMMIT"):
            commits[xid] = Committed(xid, int(lsn), frozenset(tables.pop(xid, set())))
    return commits


def drop_slot(dsn: str, slot: str) -> None:
    for _ in range(60):  # a connector's slot stays active until its task has stopped
        rows = pg(dsn, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        if not rows:
            return
        if not rows[0][0]:
            pg(dsn, "SELECT pg_drop_replication_slot(%s)", (slot,))
            return
        time.sleep(0.5)


def marks(env: dict[str, str]) -> list[Mark]:
    try:
        rows = mysql_rows(env, f"SELECT stage, source_lsn, source_txid, source_commit_time, applied_at"
                               f" FROM {WATERMARK_TABLE} ORDER BY stage")
    except Exception:  # noqa: BLE001 - the table appears with the workers' first write
        return []
    return [Mark(stage, int(lsn), int(xid), commit_time, applied_at)
            for stage, lsn, xid, commit_time, applied_at in rows]


def sample(env: dict[str, str], seconds: float) -> list[Mark]:
    deadline = time.monotonic() + seconds
    return sample_until(env, lambda: time.monotonic() >= deadline)


def sample_until(env: dict[str, str], done: Callable[[], bool]) -> list[Mark]:
    samples: list[Mark] = []
    while not done():
        samples += marks(env)
        time.sleep(SAMPLE_SECONDS)
    return samples


def wait_for_both_stages(env: dict[str, str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while {mark.stage for mark in marks(env)} != set(STAGES):
        assert time.monotonic() < deadline, f"no watermark of both stages within {START_TIMEOUT:g} s: {marks(env)}"
        time.sleep(0.5)


def end_lsns(env: dict[str, str], xids: set[int]) -> dict[int, int]:
    """The LSN in the id of Debezium's END event of each of `xids` ("<xid>:<lsn>")."""
    reader = TopicReader(env["KAFKA_BOOTSTRAP"], [transaction_topic(env["TOPIC_PREFIX"])])
    ends: dict[int, int] = {}

    def read_all(messages: list[Any]) -> bool:
        for message in messages:
            value = message.json_value
            if value and value.get("status") == "END":
                xid, _, lsn = value["id"].partition(":")
                ends[int(xid)] = int(lsn)
        return xids <= ends.keys()

    try:
        reader.collect(read_all, timeout=30)
    finally:
        reader.close()
    return ends


@pytest.fixture(scope="module")
def env(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Both workers' settings on a connector of the module's own, its slot and the test's probe slot made."""
    seeded = run_cdc("generate", "seed", "--append", "--users", "40", "--categories", "4", "--products", "30",
                     "--orders", "60", "--seed", "31", env=stack_env, timeout=120)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    uid = uuid.uuid4().hex[:8]
    folder = tmp_path_factory.mktemp("watermark")
    with private_replica(stack_env) as replica:
        own = {**os.environ, **replica, "CONNECTOR_NAME": f"test-wm-{uid}", "SLOT_NAME": f"test_wm_{uid}",
               "TOPIC_PREFIX": f"wm{uid}", "PROBE_SLOT": f"probe_wm_{uid}", "MARTS_APP_ID": f"test-wm-{uid}",
               "MARTS_DATA_DIR": str(folder / "marts"), "MARTS_SESSION_TIMEOUT": "4",
               "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.wm{uid}"}
        pg(own["PG_DSN"], "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (own["PROBE_SLOT"],))
        client = ConnectClient(own["CONNECT_URL"])
        workers: list[ConsumerProcess] = []
        try:
            settings = ConnectorSettings.from_env(own)
            ensure_source_topics(own["KAFKA_BOOTSTRAP"], settings.topic_prefix, settings.topic_partitions, 1)
            name, config = render(settings)
            apply_connector(client, name, {**config, "heartbeat.interval.ms": str(HEARTBEAT_MS)}, 120)
            workers += [ConsumerProcess(own, folder / "consume.log").start(),
                        ConsumerProcess(own, folder / "marts.log", args=("marts",)).start()]
            yield own
        finally:
            for worker in workers:
                worker.ensure_stopped()
            if own["CONNECTOR_NAME"] in client.connectors():
                client.delete(own["CONNECTOR_NAME"])
            drop_slot(own["PG_DSN"], own["SLOT_NAME"])
            drop_slot(own["PG_DSN"], own["PROBE_SLOT"])


@pytest.fixture(scope="module")
def observed(env: dict[str, str]) -> Observed:
    wait_for_both_stages(env)
    load = start_live_load(env, seed=32, duration=LOAD_SECONDS, rate=LOAD_RATE)
    # While the generator runs (not a fixed window: on a busy machine it takes seconds to start its load).
    given_up = time.monotonic() + LOAD_SECONDS + 120
    under_load = sample_until(env, lambda: load.poll() is not None or time.monotonic() > given_up)
    if load.poll() is None:
        load.kill()  # finish_live_load then fails with its log's tail
    finish_live_load(load)
    time.sleep(3.0)  # the stages catch up with the last of the load
    before_idle = set(decoded_commits(env["PG_DSN"], env["PROBE_SLOT"]))
    idle = sample(env, IDLE_SECONDS)
    idle_ended = datetime.now(UTC).replace(tzinfo=None)
    committed = decoded_commits(env["PG_DSN"], env["PROBE_SLOT"])
    xids = {mark.xid for mark in under_load + idle}
    rows = pg(env["PG_DSN"], "SELECT x, pg_xact_commit_timestamp(x::text::xid) AT TIME ZONE 'UTC'"
                             " FROM unnest(%s::bigint[]) AS x", (sorted(xids),))
    for stage in STAGES:  # the measured figures, in the test's output (-s / -rA)
        loaded, quiet = of_stage(under_load, stage), of_stage(idle, stage)
        lags = [(mark.applied_at - mark.commit_time).total_seconds() for mark in quiet if mark.commit_time]
        print(f"{stage}: {len(distinct_points(loaded))} points under load, {len(distinct_points(quiet))} in"
              f" {IDLE_SECONDS:g} s idle; applied_at - source_commit_time at idle {min(lags):.3f}..{max(lags):.3f} s")
    return Observed(under_load, idle, idle_ended, committed, set(committed) - before_idle,
                    end_lsns(env, xids), {int(xid): at for xid, at in rows})


def of_stage(samples: list[Mark], stage: str) -> list[Mark]:
    return [mark for mark in samples if mark.stage == stage]


def distinct_points(samples: list[Mark]) -> list[int]:
    return sorted({mark.lsn for mark in samples})


@pytest.mark.parametrize("stage", STAGES)
def test_the_watermark_moves_forward_many_times_under_load(observed: Observed, stage: str) -> None:
    lsns = [mark.lsn for mark in of_stage(observed.under_load, stage)]
    assert lsns == sorted(lsns)
    assert len(set(lsns)) >= 10


def test_nothing_but_the_heartbeat_writes_the_source_while_idle(observed: Observed) -> None:
    written = {table for xid in observed.idle_xids for table in observed.committed[xid].tables}
    assert written == {f"public.{HEARTBEAT_TABLE}"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_heartbeat_keeps_the_watermark_moving_at_idle(observed: Observed, stage: str) -> None:
    idle = of_stage(observed.idle, stage)
    assert [mark.lsn for mark in idle] == sorted(mark.lsn for mark in idle)
    assert len(distinct_points(idle)) >= IDLE_SECONDS * 1000 / HEARTBEAT_MS / 2
    # Heartbeat transactions only (one committed just before the idle began may be applied just after it).
    heartbeat = {f"public.{HEARTBEAT_TABLE}"}
    heartbeats = {xid for xid, commit in observed.committed.items() if set(commit.tables) == heartbeat}
    assert {mark.xid for mark in idle[1:]} <= heartbeats | {idle[0].xid}


@pytest.mark.parametrize("stage", STAGES)
def test_at_idle_the_source_commit_time_stays_within_seconds_of_now(observed: Observed, stage: str) -> None:
    last = of_stage(observed.idle, stage)[-1]
    assert last.commit_time is not None
    assert timedelta(0) <= observed.idle_ended - last.commit_time < timedelta(seconds=3 * HEARTBEAT_MS / 1000)


@pytest.mark.parametrize("stage", STAGES)
def test_source_lsn_is_the_commit_lsn_of_source_txid(observed: Observed, stage: str) -> None:
    samples = of_stage(observed.under_load + observed.idle, stage)
    assert [(mark.xid, mark.lsn) for mark in samples if observed.committed[mark.xid].commit_lsn != mark.lsn] == []


@pytest.mark.parametrize("stage", STAGES)
def test_source_lsn_is_the_lsn_of_debeziums_end_event(observed: Observed, stage: str) -> None:
    samples = of_stage(observed.under_load + observed.idle, stage)
    assert [(mark.xid, mark.lsn) for mark in samples if observed.ends[mark.xid] != mark.lsn] == []


@pytest.mark.parametrize("stage", STAGES)
def test_source_commit_time_is_the_sources_commit_timestamp_to_the_microsecond(observed: Observed,
                                                                                stage: str) -> None:
    samples = of_stage(observed.under_load + observed.idle, stage)
    assert [(mark.xid, mark.commit_time, observed.commit_times[mark.xid]) for mark in samples
            if mark.commit_time != observed.commit_times[mark.xid]] == []
