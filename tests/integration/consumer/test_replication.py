"""The replica converges on the source: under a live load, through SIGKILLs and a MySQL restart."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from cdc.local import stack as local_stack
from consumer.settings import ConsumerSettings
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.kafka import group_lags
from tests.support.replica import wait_for_match, wait_for_zero_lag
from tests.support.stack import Lane, on_both_servers
from tests.support.workers import ASSIGNED, KILL_AFTER_COMMIT, ConsumerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seeded(stack_env: dict[str, str]) -> dict[str, str]:
    """A few more rows in the shared source (appended: other tests' rows stay)."""
    result = run_cdc("generate", "seed", "--append", "--users", "40", "--categories", "6",
                     "--products", "30", "--orders", "150", "--seed", "11", env=stack_env)
    assert result.returncode == 0, result.stderr
    return stack_env


@pytest.fixture
def seeded_replica(seeded: dict[str, str], replica: dict[str, str]) -> dict[str, str]:
    return replica


def stats_at_zero_lag(env: dict[str, str], timeout: float = 30) -> str:
    """`cdc consume --stats` once it says "total lag 0" (a heartbeat's transaction may be in flight for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = run_cdc("consume", "--stats", env=env)
        assert stats.returncode == 0, stats.stderr
        if "total lag 0" in stats.stdout or time.monotonic() >= deadline:
            assert "total lag 0" in stats.stdout, stats.stdout
            return stats.stdout
        time.sleep(1.0)


@on_both_servers
def test_replica_converges_under_live_load(seeded_replica: dict[str, str], tmp_path: Path) -> None:
    replica = seeded_replica
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    try:
        finish_live_load(start_live_load(replica, seed=5, duration=10))
        wait_for_match(replica, timeout=60)
        verified = run_cdc("verify", "--scope", "replica", "--wait", "10", env=replica)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "MISMATCH" not in verified.stdout and "order_details" in verified.stdout
        stats = stats_at_zero_lag(replica)
        assert "shop.public.orders" in stats
        assert consumer.stop() == 0, consumer.output()[-3000:]
    finally:
        consumer.ensure_stopped()
    assert "progress:" in consumer.output()

    # Replaying the topics from the start (a new group, same replica) leaves the replica as it is.
    first = committed(replica)
    replay_env = {**replica, "CONSUMER_GROUP": replica["CONSUMER_GROUP"] + "-replay"}
    replay = ConsumerProcess(replay_env, tmp_path / "replay.log").start()
    try:
        deadline = time.monotonic() + 60
        while committed(replay_env) < first and time.monotonic() < deadline:
            time.sleep(1)
        assert committed(replay_env) >= first
        wait_for_match(replica, timeout=10)
        assert replay.stop() == 0
    finally:
        replay.ensure_stopped()


def committed(env: dict[str, str]) -> int:
    """The group's committed offsets, summed over all partitions."""
    settings = ConsumerSettings.from_env(env)
    lags = group_lags(settings.kafka.bootstrap, settings.group_id, settings.topics())
    return sum(lag.committed or 0 for lag in lags)


@on_both_servers
def test_replica_survives_sigkills_and_a_mysql_restart(
    seeded_replica: dict[str, str], mysql_lane: Lane, tmp_path: Path
) -> None:
    replica = seeded_replica
    rng = random.Random(int(time.time()))
    consumer = ConsumerProcess(replica, tmp_path / "consume.log").start()
    load = start_live_load(replica, seed=6, duration=40)
    try:
        for _ in range(3):
            time.sleep(rng.uniform(1.5, 4.0))
            assert consumer.kill() == -9
            consumer.start()
        # The restart must find it writing: joining the group again can take several seconds.
        consumer.wait_for_log(ASSIGNED, count=consumer.output().count(ASSIGNED) + 1)
        time.sleep(rng.uniform(1.0, 3.0))
        local_stack.restart(mysql_lane.folder, mysql_lane.mysql_part, die_with_parent=True)  # while the consumer runs
        finish_live_load(load)
        wait_for_match(replica, timeout=90)
        assert consumer.stop() == 0, consumer.output()[-3000:]
    finally:
        consumer.ensure_stopped()
        if load.poll() is None:
            load.kill()
    log = consumer.output()
    assert "pausing consumption" in log and "resuming consumption" in log, log[-3000:]


def committed_offsets(env: dict[str, str]) -> dict[tuple[str, int], int]:
    """The group's committed offset (the next to read) of every partition it committed."""
    settings = ConsumerSettings.from_env(env)
    return {(lag.topic, lag.partition): lag.committed
            for lag in group_lags(settings.kafka.bootstrap, settings.group_id, settings.topics())
            if lag.committed is not None}


def test_a_kill_between_the_mysql_commit_and_the_offset_commit_leaves_the_replica_exact_after_a_restart(
    seeded_replica: dict[str, str], tmp_path: Path
) -> None:
    replica = seeded_replica
    report = tmp_path / "killed-batch.json"
    killing = {**replica, "CONSUMER_BATCH_SIZE": "20", "CDC_TEST_KILL_AFTER_BATCH": "3",
               "CDC_TEST_KILL_REPORT": str(report)}
    killed = ConsumerProcess(killing, tmp_path / "killed.log", args=("consumer",),
                             module=KILL_AFTER_COMMIT).start()
    try:
        assert killed.proc is not None and killed.proc.wait(timeout=60) == -9, killed.output()[-3000:]
    finally:
        killed.ensure_stopped()
    committed = committed_offsets(replica)
    killed_batch = json.loads(report.read_text())
    # Its changes are in MySQL, its offsets are not committed: whatever it completed is read again. (A
    # batch's offsets cover every partition, up to the first message not yet in a batch: core.transactions.)
    assert killed_batch and all(committed.get((topic, partition), 0) <= offset + 1
                                for topic, partition, offset in killed_batch), (killed_batch, committed)
    assert any(committed.get((topic, partition), 0) <= offset
               for topic, partition, offset in killed_batch), (killed_batch, committed)

    restarted = ConsumerProcess(replica, tmp_path / "restarted.log").start()  # the same group
    try:
        restarted.wait_for_log(ASSIGNED)  # running (the replica may match already: the killed batch committed)
        wait_for_match(replica, timeout=60)
        wait_for_zero_lag(replica)
        assert restarted.stop() == 0, restarted.output()[-3000:]
    finally:
        restarted.ensure_stopped()
