"""Under live load, a reader of the replica and the marts never sees half of a source transaction.

The module's own stack runs both workers with 4 partitions per source topic;
`cdc generate live --rate 150` runs while `cdc verify --consistency` samples
MySQL in consistent snapshots every 0.2 s. Each of the three invariants holds
at every source commit (cdc/consistency/invariants.py), so no sample may
break one. Fails until the replica and the marts apply whole source
transactions (issue 15).

Then both stages are held to the stronger claim: in every snapshot, each
equals the source as of the source transaction its watermark names. The
test's own writer applies the generator's transaction kinds one at a time and
reads the source inside each transaction, just before its commit: with no
other writer, that is the source as of that commit. The marts must equal
their SQL definitions evaluated there; the replica, views of each table
(REPLICA_VIEWS) read there.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from cdc.consistency.invariants import MARTS_BALANCE, ORDER_TOTALS, REFERENCES
from cdc.consistency.sampling import snapshot_reader
from core.settings import MySqlSettings
from core.verify import compare
from core.watermark import MARTS_STAGE, REPLICA_STAGE, WATERMARK_TABLE
from generator import transactions
from generator.model import Randomness
from marts.definitions import MARTS
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
MIN_CHECKED = 30  # snapshots of a stage whose watermark names one of the writer's transactions


@dataclass(frozen=True)
class View:
    """What a stage is compared on: `source_sql` on PostgreSQL, `stage_sql` on MySQL (the same unless given); the
    first `key_width` columns key a row."""

    source_sql: str
    columns: tuple[str, ...]
    key_width: int
    stage_sql: str = ""

    def on_stage(self) -> str:
        return self.stage_sql or self.source_sql


# The replica's small tables row by row, the large ones in aggregates.
REPLICA_VIEWS = {
    "users": View("SELECT user_id, first_name, last_name FROM users", ("user_id", "first_name", "last_name"), 1),
    "product_categories": View("SELECT category_id, name FROM product_categories", ("category_id", "name"), 1),
    "products": View("SELECT product_id, category_id, price FROM products", ("product_id", "category_id", "price"), 1),
    "orders per status": View("SELECT status, COUNT(*), SUM(total_amount), SUM(user_id) FROM orders GROUP BY status",
                              ("status", "orders", "total_amount", "user_ids"), 1),
    "order_details": View("SELECT COUNT(*), COALESCE(SUM(quantity), 0), COALESCE(SUM(total_price), 0),"
                          " COALESCE(SUM(order_id), 0), COALESCE(SUM(product_id), 0) FROM order_details",
                          ("lines", "quantity", "total_price", "order_ids", "product_ids"), 0),
}
# The marts: their definitions on the source, their tables in MySQL.
MARTS_VIEWS = {spec.name: View(spec.source_sql, spec.defined_columns, len(spec.keys),
                               f"SELECT {', '.join(spec.defined_columns)} FROM {spec.name}") for spec in MARTS}
VIEWS = {MARTS_STAGE: MARTS_VIEWS, REPLICA_STAGE: REPLICA_VIEWS}
Rows = list[tuple[Any, ...]]
State = dict[str, dict[str, Rows]]  # stage -> view -> rows


@dataclass(frozen=True)
class StageSample:
    xid: int | None  # the stage's watermark
    views: dict[str, Rows]


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


def write_serially(dsn: str, seconds: float, expected: dict[int, State]) -> None:
    """Shop transactions one at a time; each one's xid -> every stage's views read just before its commit."""
    rand = Randomness.stream(23, "serial-writer")
    conn = psycopg2.connect(dsn)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with conn, conn.cursor() as cur:
                transactions.apply(transactions.draw_kind(rand), transactions.Tx(cur, rand, datetime.now(UTC)))
                cur.execute("SELECT txid_current() % 4294967296")  # the 32-bit xid Debezium gives as txId
                (xid,) = cur.fetchone()
                state: State = {}
                for stage, views in VIEWS.items():
                    state[stage] = {}
                    for name, view in views.items():
                        cur.execute(view.source_sql)
                        state[stage][name] = [tuple(row) for row in cur.fetchall()]
            expected[xid] = state
            time.sleep(SERIAL_PAUSE)
    finally:
        conn.close()


def sample_stages(mysql: MySqlSettings, stop: threading.Event) -> list[dict[str, StageSample]]:
    """Both stages' watermark xids and views, in one consistent snapshot each, every 0.1 s until `stop`."""
    queries = [f"SELECT stage, source_txid FROM {WATERMARK_TABLE}",
               *(view.on_stage() for views in VIEWS.values() for view in views.values())]
    samples: list[dict[str, StageSample]] = []
    with snapshot_reader(mysql) as reader:
        while not stop.wait(0.1):
            (_, watermarks), *results = reader.read(queries)
            xids: dict[str, int] = dict(watermarks)
            rows = iter(results)
            samples.append({stage: StageSample(xids.get(stage), {name: next(rows)[1] for name in views})
                            for stage, views in VIEWS.items()})
    return samples


@dataclass(frozen=True)
class SerialRun:
    expected: dict[int, State]
    samples: list[dict[str, StageSample]]


@pytest.fixture(scope="module")
def serial_run(report: dict[str, Any], pipeline: Path) -> SerialRun:
    """The test's own serial writer (after the live load: no other writer) and a reader of both stages; a failure
    of either fails the tests."""
    env = env_of(pipeline)
    assert_exact(env)  # the live load's backlog applied: the writer's transactions are all the stages have to do
    expected: dict[int, State] = {}
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        sampler = pool.submit(sample_stages, MySqlSettings.from_env(env), stop)
        try:
            pool.submit(write_serially, env["PG_DSN"], SERIAL_WRITES, expected).result()
            time.sleep(2.0)  # the stages catch up with the last transactions
        finally:
            stop.set()
        samples = sampler.result()
    return SerialRun(expected, samples)


@pytest.mark.parametrize("stage", [MARTS_STAGE, REPLICA_STAGE])
def test_every_snapshot_of_a_stage_equals_the_source_as_of_the_transaction_its_watermark_names(
        serial_run: SerialRun, stage: str) -> None:
    checked = [sample[stage] for sample in serial_run.samples if sample[stage].xid in serial_run.expected]
    differences = []
    for sample in checked:
        assert sample.xid is not None
        for name, view in VIEWS[stage].items():
            found = compare(name, view.columns, view.key_width, serial_run.expected[sample.xid][stage][name],
                            sample.views[name])
            if not found.matches:
                differences.append((sample.xid, name, found.examples))
    print(f"{stage}: {len(checked)} of {len(serial_run.samples)} snapshots checked")
    assert len(checked) >= MIN_CHECKED, (len(checked), len(serial_run.samples), len(serial_run.expected))
    assert differences == []
