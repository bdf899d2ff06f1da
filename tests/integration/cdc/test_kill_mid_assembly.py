"""A worker SIGKILLed while it assembles a large source transaction restarts exact, and no reader ever sees
half of a transaction, before, during or after the crash.

The module's own stack (4 partitions per topic) with workers the test starts itself. For each worker: the
running one is stopped, one that kills itself mid-assembly takes its place
(tests/support/kill_mid_assembly.py: SIGKILL once it holds HELD messages of transactions not complete yet),
then, under a light live load, one source transaction writes an order with LINES lines spread over every
partition of two topics. The killed worker had read part of it and applied none of it; the normal worker
restarts on the same consumer group. Throughout, a reader samples the replica and the marts in consistent
snapshots (cdc/consistency: the invariants `cdc verify --consistency` checks); at the end `cdc verify`
finds the replica and both marts equal to the source.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg2.extras import execute_values

from cdc.consistency.invariants import INVARIANTS
from cdc.consistency.report import Sample, Tally, tally
from cdc.consistency.sampling import snapshot_reader, take_sample
from core.settings import MySqlSettings
from marts.state_tables import ORDERS as MART_ORDERS
from tests.support.cli import finish_live_load, start_live_load
from tests.support.mysql import mysql_rows
from tests.support.pipeline import assert_exact, own_pipeline, seed, source_partitions, worker_env
from tests.support.source import in_source_transaction
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

PARTITIONS = 4
LINES = 3000
HELD = 600  # messages held when the worker kills itself: a fifth of the transaction
SAMPLE_SECONDS = 0.1
KILL_TIMEOUT = 60.0
# The worker's command, the module killing it mid-assembly is given the same name; the log line that
# says it reads its partitions.
WORKERS = {"consumer": ("consume", "consumer.app: assigned "), "marts": ("marts", "[^Worker]: Ready")}


@dataclass
class Pipeline:
    folder: Path
    env: dict[str, str]
    user_id: int
    products: list[tuple[int, Decimal]]
    running: dict[str, ConsumerProcess]

    def start(self, worker: str, module: str = "cdc", extra: dict[str, str] | None = None) -> ConsumerProcess:
        command, _ = WORKERS[worker]
        logs = self.folder / "logs"
        number = len(list(logs.glob(f"test-{worker}-*.log")))
        process = ConsumerProcess({**self.env, **(extra or {})}, logs / f"test-{worker}-{number}.log",
                                  args=(command if module == "cdc" else worker,), module=module).start()
        self.running[worker] = process
        return process


def make_shop(cur: Any) -> tuple[int, list[tuple[int, Decimal]]]:
    """A user and 60 products of the test's own."""
    cur.execute("INSERT INTO users (first_name, last_name, email) VALUES ('Kill', 'Buyer', 'kill@example.com')"
                " RETURNING user_id")
    (user_id,) = cur.fetchone()
    cur.execute("INSERT INTO product_categories (name) VALUES ('Kill category') RETURNING category_id")
    (category_id,) = cur.fetchone()
    products = []
    for number in range(60):
        price = Decimal(f"{number + 1}.50")
        cur.execute("INSERT INTO products (name, category_id, price) VALUES (%s, %s, %s) RETURNING product_id",
                    (f"Kill product {number}", category_id, price))
        products.append((cur.fetchone()[0], price))
    return user_id, products


def big_order(pipeline: Pipeline) -> tuple[int, int]:
    """One source transaction: an order with LINES lines whose total is their sum; (order_id, xid)."""
    lines = [(product, 1 + number % 3, price) for number, (product, price)
             in enumerate(pipeline.products[number % len(pipeline.products)] for number in range(LINES))]
    total = sum((quantity * price for _, quantity, price in lines), Decimal(0))

    def write(cur: Any) -> tuple[int, int]:
        cur.execute("INSERT INTO orders (user_id, total_amount) VALUES (%s, %s) RETURNING order_id, txid_current()",
                    (pipeline.user_id, total))
        order_id, xid = cur.fetchone()
        execute_values(cur, "INSERT INTO order_details (order_id, product_id, quantity, price_per_unit, total_price)"
                            " VALUES %s",
                       [(order_id, product, quantity, price, quantity * price) for product, quantity, price in lines])
        return order_id, xid

    result: tuple[int, int] = in_source_transaction(pipeline.env, write)
    return result


class Sampler:
    """Samples every invariant in consistent snapshots, every SAMPLE_SECONDS, until stopped."""

    def __init__(self, env: dict[str, str]) -> None:
        self.mysql = MySqlSettings.from_env(env)
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        start = time.monotonic()
        with snapshot_reader(self.mysql) as reader:
            while not self.stopping.wait(SAMPLE_SECONDS):
                try:
                    self.samples.append(take_sample(reader, INVARIANTS, time.monotonic() - start))
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    self.errors.append(str(exc))

    def torn(self) -> list[tuple[str, int, int, tuple[str, ...]]]:
        """Per invariant: name, samples, torn samples, the first offending rows."""
        tallies: tuple[Tally, ...] = tally(INVARIANTS, self.samples)
        return [(entry.invariant.name, entry.samples, entry.torn, entry.examples) for entry in tallies]


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    with own_pipeline("cdc-kill-assembly-stack-", workers=False) as folder:
        env = {**worker_env(folder), "MARTS_SESSION_TIMEOUT": "4"}
        assert set(source_partitions(env).values()) == {PARTITIONS}
        seed(env, "--users", "60", "--categories", "5", "--products", "40", "--orders", "200", "--seed", "41")
        user_id, products = in_source_transaction(env, make_shop)
        running = Pipeline(folder, env, user_id, products, {})
        try:
            for worker in WORKERS:
                running.start(worker).wait_for_log(WORKERS[worker][1])
            assert_exact(env)
            yield running
        finally:
            for process in running.running.values():
                process.ensure_stopped()


@pytest.mark.parametrize("worker", list(WORKERS))
def test_a_worker_killed_mid_transaction_restarts_exact_and_no_reader_sees_a_torn_view(
        pipeline: Pipeline, worker: str) -> None:
    report = pipeline.folder / f"killed-{worker}.json"
    with Sampler(pipeline.env) as sampler:
        assert pipeline.running[worker].stop() == 0
        killer = pipeline.start(worker, "tests.support.kill_mid_assembly",
                                {"CDC_TEST_KILL_HELD": str(HELD), "CDC_TEST_KILL_REPORT": str(report)})
        killer.wait_for_log(WORKERS[worker][1])
        load = start_live_load(pipeline.env, seed=42 + len(worker), duration=8, rate=20)
        order_id, _ = big_order(pipeline)
        assert killer.proc is not None
        assert killer.proc.wait(timeout=KILL_TIMEOUT) == -9, killer.output()[-3000:]
        held = json.loads(report.read_text())["held"]
        applied_at_kill = applied(pipeline.env, worker, order_id)
        pipeline.start(worker)
        finish_live_load(load)
        assert_exact(pipeline.env)
    print(f"{worker}: killed holding {held} messages; torn per invariant: {sampler.torn()}")
    assert (HELD <= held, applied_at_kill) == (True, False)
    assert sampler.errors == []
    assert [(name, torn, examples) for name, _, torn, examples in sampler.torn()] == [
        (invariant.name, 0, ()) for invariant in INVARIANTS]
    assert min(samples for _, samples, _, _ in sampler.torn()) >= 50


def applied(env: dict[str, str], worker: str, order_id: int) -> bool:
    """Whether the worker's stage shows the order: its row in the replica, its lines in the marts' state."""
    if worker == "consumer":
        return bool(mysql_rows(env, "SELECT 1 FROM orders WHERE order_id = %s", (order_id,)))
    return bool(mysql_rows(env, f"SELECT 1 FROM {MART_ORDERS.name} WHERE order_id = %s", (order_id,)))
