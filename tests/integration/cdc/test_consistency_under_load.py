"""Under live load, a reader of the replica and the marts never sees half of a source transaction.

The module's own stack runs both workers with 4 partitions per source topic;
`cdc generate live --rate 150` runs while `cdc verify --consistency` samples
MySQL in consistent snapshots every 0.2 s. Each of the three invariants holds
at every source commit (cdc/consistency/invariants.py), so no sample may
break one. Fails until the replica and the marts apply whole source
transactions (issue 15).

The marts are also held to the stronger claim: in every snapshot they equal
their SQL definitions evaluated on the source as of the source transaction
their watermark names. The test's own writer applies the generator's
transaction kinds one at a time and evaluates the definitions inside each
transaction, just before its commit: with no other writer, that is the
source as of that commit.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from cdc.consistency.invariants import MARTS_BALANCE, ORDER_TOTALS, REFERENCES
from cdc.consistency.sampling import snapshot_reader
from core.settings import MySqlSettings
from core.watermark import MARTS_STAGE, WATERMARK_TABLE
from generator import transactions
from generator.model import Randomness
from marts.definitions import MARTS
from marts.verify import report as mart_report
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.pipeline import assert_exact, env_of, own_pipeline, seed, source_partitions

pytestmark = pytest.mark.integration

PARTITIONS = 4
RATE = 150  # shop transactions a second
SAMPLING = 20.0  # seconds
INTERVAL = 0.2
WARM_UP = 2.0  # seconds of load before the sampling starts
MIN_SAMPLES = 60  # of the 100 slots: a slow machine may skip some, not most
SERIAL_WRITES = 15.0  # seconds of the test's own writer, one transaction at a time
SERIAL_PAUSE = 0.05  # between its transactions
MIN_MARTS_SAMPLES = 30  # snapshots whose watermark names one of the writer's transactions

MartRows = dict[str, list[tuple[Any, ...]]]  # mart name -> rows of its defined columns


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Path]:
    with own_pipeline("cdc-consistency-stack-") as folder:
        seed(env_of(folder), "--users", "200", "--categories", "10", "--products", "120", "--orders", "1500",
             "--seed", "21")
        assert_exact(env_of(folder))
        yield folder


@pytest.fixture(scope="module")
def report(pipeline: Path) -> dict[str, Any]:
    """`cdc verify --consistency --json` sampled during the live load, per invariant."""
    env = env_of(pipeline)
    assert set(source_partitions(env).values()) == {PARTITIONS}
    load = start_live_load(env, seed=22, rate=RATE, duration=WARM_UP + SAMPLING + 2)
    time.sleep(WARM_UP)
    sampled = run_cdc("verify", "--consistency", "--duration", str(SAMPLING), "--interval", str(INTERVAL),
                      "--json", env=env, timeout=SAMPLING + 120)
    finish_live_load(load)
    assert sampled.returncode in (0, 1), sampled.stderr[-3000:]
    invariants: dict[str, Any] = json.loads(sampled.stdout)["invariants"]
    print(json.dumps(invariants, indent=2))  # the measured torn counts, in the test's output (-s / -rA)
    return invariants


@pytest.mark.parametrize("name", [ORDER_TOTALS.name, MARTS_BALANCE.name, REFERENCES.name])
def test_the_sampler_took_enough_snapshots(report: dict[str, Any], name: str) -> None:
    assert report[name]["samples"] >= MIN_SAMPLES


def test_no_snapshot_of_the_replica_shows_an_order_whose_lines_disagree_with_its_total(
        report: dict[str, Any]) -> None:
    assert (report[ORDER_TOTALS.name]["torn"], report[ORDER_TOTALS.name]["examples"]) == (0, [])


def test_no_snapshot_of_the_marts_shows_spending_that_differs_from_sales(report: dict[str, Any]) -> None:
    assert (report[MARTS_BALANCE.name]["torn"], report[MARTS_BALANCE.name]["examples"]) == (0, [])


def test_no_snapshot_of_the_replica_shows_a_reference_to_a_missing_row(report: dict[str, Any]) -> None:
    assert (report[REFERENCES.name]["torn"], report[REFERENCES.name]["examples"]) == (0, [])


def test_the_pipeline_ends_exact_after_the_load(report: dict[str, Any], pipeline: Path) -> None:
    assert_exact(env_of(pipeline))


def write_serially(dsn: str, seconds: float, expected: dict[int, MartRows]) -> None:
    """Shop transactions one at a time; each one's xid -> the marts' definitions evaluated just before its commit."""
    rand = Randomness.stream(23, "serial-writer")
    conn = psycopg2.connect(dsn)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with conn, conn.cursor() as cur:
                transactions.apply(transactions.draw_kind(rand), transactions.Tx(cur, rand, datetime.now(UTC)))
                cur.execute("SELECT txid_current() % 4294967296")  # the 32-bit xid Debezium gives as txId
                (xid,) = cur.fetchone()
                state: MartRows = {}
                for spec in MARTS:
                    cur.execute(spec.source_sql)
                    state[spec.name] = [tuple(row) for row in cur.fetchall()]
            expected[xid] = state
            time.sleep(SERIAL_PAUSE)
    finally:
        conn.close()


def sample_marts(mysql: MySqlSettings, stop: threading.Event) -> list[tuple[int | None, MartRows]]:
    """The marts' watermark xid and rows, in one consistent snapshot each, every 0.1 s until `stop`."""
    queries = [f"SELECT source_txid FROM {WATERMARK_TABLE} WHERE stage = '{MARTS_STAGE}'",
               *(f"SELECT {', '.join(spec.defined_columns)} FROM {spec.name}" for spec in MARTS)]
    samples: list[tuple[int | None, MartRows]] = []
    with snapshot_reader(mysql) as reader:
        while not stop.wait(0.1):
            (_, watermark), *marts = reader.read(queries)
            xid = watermark[0][0] if watermark else None
            samples.append((xid, {spec.name: rows for spec, (_, rows) in zip(MARTS, marts, strict=True)}))
    return samples


def test_every_marts_snapshot_equals_their_definitions_on_the_source_as_of_their_watermark(
        report: dict[str, Any], pipeline: Path) -> None:
    env = env_of(pipeline)
    expected: dict[int, MartRows] = {}
    stop = threading.Event()
    sampled: list[tuple[int | None, MartRows]] = []
    writer = threading.Thread(target=write_serially, args=(env["PG_DSN"], SERIAL_WRITES, expected))
    sampler = threading.Thread(target=lambda: sampled.extend(sample_marts(MySqlSettings.from_env(env), stop)))
    writer.start()
    sampler.start()
    writer.join()
    time.sleep(2.0)  # the marts catch up with the last transactions
    stop.set()
    sampler.join()

    checked = [(xid, marts) for xid, marts in sampled if xid in expected]
    differences = [(xid, mart.name, mart.examples) for xid, marts in checked for spec in MARTS
                   if not (mart := mart_report(spec, expected[xid][spec.name], marts[spec.name])).matches]
    assert len(checked) >= MIN_MARTS_SAMPLES, (len(checked), len(sampled), len(expected))
    assert differences == []
