"""End to end: a TRUNCATE of order_details under live load, new lines right after it; replica and marts end exact."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import psycopg2
import pytest

from tests.support.cli import finish_live_load, run_cdc, start_cdc, start_live_load
from tests.support.marts import converged
from tests.support.replica import wait_for_match
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seeded(stack_env: dict[str, str]) -> dict[str, str]:
    result = run_cdc("generate", "seed", "--append", "--users", "30", "--categories", "5",
                     "--products", "20", "--orders", "120", "--seed", "23", env=stack_env)
    assert result.returncode == 0, result.stderr
    return stack_env


def truncate_lines_then_add(dsn: str, new_lines: int) -> None:
    """TRUNCATE order_details, then new lines in transactions of their own, at once."""
    conn = psycopg2.connect(dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("TRUNCATE order_details")
        added = 0
        while added < new_lines:
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("INSERT INTO order_details (order_id, product_id, quantity, price_per_unit, "
                                "total_price) SELECT o.order_id, p.product_id, 2, p.price, p.price * 2"
                                " FROM orders o, products p ORDER BY random() LIMIT 1")
                added += 1
            except psycopg2.errors.ForeignKeyViolation:
                pass  # the live load deleted the order picked before this insert committed: pick another
    finally:
        conn.close()


def marts_worker(replica: dict[str, str], tmp_path: Path) -> subprocess.Popen[str]:
    """The marts worker on the replica's database, with its own app id and dead-letter topic."""
    uid = replica["CONSUMER_GROUP"]
    env = {**replica, "MARTS_APP_ID": f"{uid}-marts", "MARTS_DATA_DIR": str(tmp_path / "marts"),
           "MARTS_SESSION_TIMEOUT": "4", "MARTS_DEADLETTER_TOPIC": f"test.marts.deadletter.{uid}"}
    return start_cdc("marts", env=env, log=tmp_path / "marts.log")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replica_and_marts_are_exact_after_a_truncate_under_live_load(
    seeded: dict[str, str], replica: dict[str, str], tmp_path: Path, seed: int
) -> None:
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    marts = marts_worker(replica, tmp_path)
    try:
        load = start_live_load(replica, seed=seed, duration=8)
        time.sleep(3)
        truncate_lines_then_add(replica["PG_DSN"], new_lines=20)
        finish_live_load(load)
        wait_for_match(replica, timeout=90)
        converged(replica)
        assert consumer.stop() == 0, consumer.output()[-3000:]
    finally:
        consumer.ensure_stopped()
        marts.terminate()
        marts.wait(timeout=60)
