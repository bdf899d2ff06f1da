"""Faults under live load, on a whole local stack of its own (both workers run as the stack's own).

Each test injects faults while `cdc generate live` runs, then checks that
`cdc verify` finds the replica and both marts exactly equal to the source,
and that the workers rode out what they must ride out without a restart.
One stack serves the module (faults are injected with `cdc local restart`,
which keeps ports and data); the tests run in order and each ends exact.
"""
from __future__ import annotations

import re
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest

from cdc.local import stack as local_stack
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.kafka import TopicReader
from tests.support.pipeline import VERIFY_WAIT, env_of, own_pipeline, source
from tests.support.pipeline import seed as seed_source

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Path]:
    with own_pipeline("cdc-fault-stack-") as folder:
        seed_source(env_of(folder), "--users", "200", "--categories", "10", "--products", "120", "--orders", "1500",
             "--seed", "9")
        yield folder


def live(folder: Path, seed: int, duration: float) -> subprocess.Popen[str]:
    return start_live_load(env_of(folder), seed=seed, duration=duration)


def finish(generator: subprocess.Popen[str]) -> None:
    finish_live_load(generator, timeout=300)


def restart(folder: Path, part: str, *, kill: bool = False) -> None:
    result = run_cdc("local", "restart", "--dir", str(folder), part, *(["--kill"] if kill else []))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def assert_exact(folder: Path) -> None:
    result = run_cdc("verify", "--wait", VERIFY_WAIT, env=env_of(folder), timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def worker_pids(folder: Path) -> dict[str, int]:
    state = local_stack.StackState.load(folder)
    return {name: state.processes[name].pid for name in local_stack.WORKERS if state.alive(name)}


def test_mariadb_sigkilled_twice_under_load_is_ridden_out_by_both_workers(pipeline: Path) -> None:
    before = worker_pids(pipeline)
    generator = live(pipeline, seed=31, duration=30)
    for _ in range(2):
        time.sleep(7)
        restart(pipeline, "mariadb", kill=True)
    finish(generator)
    assert_exact(pipeline)
    assert worker_pids(pipeline) == before and len(before) == 2  # nobody restarted them


def test_workers_sigkilled_three_times_each_resume_exactly(pipeline: Path) -> None:
    # Each restart waits until the new worker serves its metrics: on a busy machine a round takes up to 20 s.
    generator = live(pipeline, seed=32, duration=70)
    for _ in range(3):
        time.sleep(5)
        assert generator.poll() is None, "the live load ended before every kill"
        restart(pipeline, "marts", kill=True)
        restart(pipeline, "consumer", kill=True)
    finish(generator)
    assert_exact(pipeline)


def test_connect_sigkilled_and_postgres_restarted_under_load_lose_nothing(pipeline: Path) -> None:
    before = worker_pids(pipeline)
    generator = live(pipeline, seed=33, duration=40)
    time.sleep(6)
    restart(pipeline, "connect", kill=True)
    time.sleep(6)
    restart(pipeline, "postgres")  # fast shutdown: the generator's connection breaks, it reconnects
    finish(generator)
    assert_exact(pipeline)
    assert worker_pids(pipeline) == before


BULK_USERS = 40_000  # Debezium streams them for several seconds: several of Connect's offset flushes (1 s)


def insert_bulk_users(folder: Path, name: str, during: Callable[[], None] = lambda: None) -> str:
    """BULK_USERS new users named `name` in one source transaction, `during` run before its commit; its xid."""
    conn = psycopg2.connect(env_of(folder)["PG_DSN"])
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO users (first_name, last_name, email) SELECT %s, 'User ' || g, "
                        "%s || g || '@example.test' FROM generate_series(1, %s) g", (name, name.lower(), BULK_USERS))
            cur.execute("SELECT txid_current() % 4294967296")  # Debezium's xid: without the epoch
            (xid,) = cur.fetchone()
            during()
        return str(xid)
    finally:
        conn.close()


def offset_stored_inside(folder: Path, transaction: Callable[[], str]) -> str:
    """Run `transaction` (returning its xid); wait until Kafka Connect stored an offset inside it; the xid."""
    state = local_stack.StackState.load(folder)
    offsets = TopicReader(state.env["KAFKA_BOOTSTRAP"], [f"{state.connect_group}-offsets"], from_end=True)
    try:
        xid = transaction()
        stored = offsets.collect(until=lambda found: bool(found), timeout=120,
                                 keep=lambda message: f'"transaction_id":"{xid}"' in (message.value or b"").decode())
    finally:
        offsets.close()
    assert stored, f"Connect stored no offset inside transaction {xid}"
    return xid


def connect_resumed_inside_a_transaction(log: str) -> bool:
    """Whether a restart of the connector found its stored offset in the middle of a transaction."""
    positions = re.findall(r"last commit LSN '(.*?)' and last change LSN '(.*?)'", log)
    return any(commit != change for commit, change in positions)


def test_connect_killed_in_the_middle_of_a_large_transaction_resumes_it_without_loss(pipeline: Path) -> None:
    # Debezium 3.1.1 numbered the rest of such a transaction from 1 again (dbz#633): the assembly kept the
    # renumbered copies in place of the first ones, and rows written before the kill were lost.
    log = pipeline / "connect" / "connect.log"
    logged = len(log.read_text(errors="replace"))
    offset_stored_inside(pipeline, lambda: insert_bulk_users(pipeline, "Bulk"))
    restart(pipeline, "connect", kill=True)
    assert_exact(pipeline)
    assert connect_resumed_inside_a_transaction(log.read_text(errors="replace")[logged:])


def test_postgres_killed_inside_a_large_transaction_after_a_small_one_committed_during_it_loses_nothing(
        pipeline: Path) -> None:
    # After the kill PostgreSQL re-sends from the slot's last checkpointed position: the small transaction's
    # BEGIN and COMMIT come again before the large one's, and must not end the large one's restored counts.
    log = pipeline / "connect" / "connect.log"
    logged = len(log.read_text(errors="replace"))
    small = "UPDATE products SET price = price + 1 WHERE product_id = (SELECT min(product_id) FROM products)"
    offset_stored_inside(pipeline, lambda: insert_bulk_users(pipeline, "Second", during=lambda: source(pipeline, small)))
    restart(pipeline, "postgres", kill=True)
    assert_exact(pipeline)
    assert connect_resumed_inside_a_transaction(log.read_text(errors="replace")[logged:])


def test_postgres_sigkilled_under_load_is_ridden_out_by_the_pipeline(pipeline: Path) -> None:
    before = worker_pids(pipeline)
    generator = live(pipeline, seed=39, duration=30)
    time.sleep(8)
    restart(pipeline, "postgres", kill=True)  # crash recovery; the generator and Debezium reconnect
    finish(generator)
    assert_exact(pipeline)
    assert worker_pids(pipeline) == before


def snapshots(folder: Path) -> int:
    return (folder / "connect" / "connect.log").read_text(errors="replace").count("Snapshot completed")


def test_down_then_up_on_the_same_folder_then_more_load_ends_exact(pipeline: Path) -> None:
    finish(live(pipeline, seed=34, duration=8))
    before = snapshots(pipeline)
    # Their progress printed: a failure's report says why the handover was not used (which sink was behind).
    local_stack.down(pipeline, progress=print)
    local_stack.up(pipeline, progress=print, die_with_parent=True, infra_only=False)
    finish(live(pipeline, seed=35, duration=10))
    assert_exact(pipeline)
    assert snapshots(pipeline) == before  # the connector resumed where it stopped


def test_a_broker_restart_carries_the_pipeline_across(pipeline: Path) -> None:
    finish(live(pipeline, seed=36, duration=8))
    restart(pipeline, "broker")
    finish(live(pipeline, seed=37, duration=10))
    assert_exact(pipeline)


def test_a_broker_killed_under_load_ends_exact_after_a_new_snapshot(pipeline: Path) -> None:
    generator = live(pipeline, seed=38, duration=20)
    time.sleep(8)
    restart(pipeline, "broker", kill=True)
    finish(generator)
    assert_exact(pipeline)


def test_tables_added_to_the_publication_are_read_again_by_the_new_snapshot_after_the_broker_is_lost(
        pipeline: Path) -> None:
    # Named before cdc_schema_changes: the snapshot still reads their definitions first. "awards" is empty: no
    # snapshot read makes its replica table, its first change does.
    source(pipeline, "CREATE TABLE bonuses (bonus_id bigserial PRIMARY KEY, code text NOT NULL, amount numeric(8,2))",
           "INSERT INTO bonuses (code, amount) SELECT 'B' || g, g % 90 FROM generate_series(1, 3000) g",
           "CREATE TABLE awards (award_id bigserial PRIMARY KEY, title text NOT NULL)")
    source(pipeline, "ALTER PUBLICATION cdc_publication ADD TABLE bonuses, awards")
    source(pipeline, "UPDATE bonuses SET amount = amount + 1 WHERE bonus_id % 7 = 0")
    generator = live(pipeline, seed=39, duration=15)
    time.sleep(5)
    before = snapshots(pipeline)
    restart(pipeline, "broker", kill=True)
    source(pipeline, "DELETE FROM bonuses WHERE bonus_id % 10 = 3", "INSERT INTO bonuses (code, amount) VALUES ('NEW', 5)",
           "INSERT INTO awards (title) VALUES ('first'), ('second')")
    finish(generator)
    assert_exact(pipeline)
    assert snapshots(pipeline) == before + 1
    with urllib.request.urlopen(env_of(pipeline)["CONSUMER_METRICS_URL"], timeout=10) as response:
        assert 'cdc_dead_letters_total{stage="replica"} 0.0' in response.read().decode()
