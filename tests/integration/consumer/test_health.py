"""`cdc health consumer` against a real `cdc consume`: unhealthy while MySQL refuses it and input waits,
healthy again once it can write; unhealthy when the consumer is gone."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.support.health import health, wait_for_health
from tests.support.mysql import mysql_outage_account
from tests.support.replica import wait_for_match
from tests.support.source import insert_user
from tests.support.stack import on_both_servers
from tests.support.workers import ASSIGNED, ConsumerProcess

pytestmark = pytest.mark.integration

CAUGHT_UP = "healthy: caught up, nothing waiting"

# The change it cannot write, and any of Debezium's heartbeats (every 10 s) that came meanwhile.
STALLED = re.compile(r"unhealthy: no progress for \d+ s with input waiting \([1-9]\d* messages; last batch at .+\)")


@on_both_servers
def test_health_turns_unhealthy_while_mysql_refuses_the_consumer_and_healthy_when_it_is_back(
    replica: dict[str, str], tmp_path: Path
) -> None:
    with mysql_outage_account(replica) as (outage_env, outage):
        env = {**outage_env, "CONSUMER_HEALTH_FILE": str(tmp_path / "consumer-health.json")}
        consumer = ConsumerProcess(env, tmp_path / "consume.log").start()
        try:
            consumer.wait_for_log(ASSIGNED)
            wait_for_match(env, timeout=60)
            caught_up = wait_for_health(env, "consumer", 0, "--max-stall", "5", verdict=CAUGHT_UP)
            assert caught_up.stdout.startswith(CAUGHT_UP), caught_up.stdout

            outage.begin()
            insert_user(env)  # a change it cannot write
            consumer.wait_for_log("pausing consumption")
            stalled = wait_for_health(env, "consumer", 1, "--max-stall", "5")
            assert stalled.returncode == 1 and STALLED.fullmatch(stalled.stdout.strip()), stalled.stdout

            outage.end()
            recovered = wait_for_health(env, "consumer", 0, "--max-stall", "5", timeout=120, verdict=CAUGHT_UP)
            assert recovered.stdout.startswith(CAUGHT_UP), recovered.stdout
            wait_for_match(env, timeout=30)
            assert consumer.stop() == 0, consumer.output()[-3000:]
        finally:
            consumer.ensure_stopped()


def test_health_reports_a_killed_consumer_as_hung_or_dead(replica: dict[str, str], tmp_path: Path) -> None:
    env = {**replica, "CONSUMER_HEALTH_FILE": str(tmp_path / "consumer-health.json")}
    consumer = ConsumerProcess(env, tmp_path / "consume.log").start()
    try:
        consumer.wait_for_log(ASSIGNED)
        assert wait_for_health(env, "consumer", 0).returncode == 0
        consumer.kill()
        time.sleep(3)

        result = health(env, "consumer", "--max-age", "2")

        assert result.returncode == 1
        assert re.fullmatch(r"unhealthy: heartbeat is \d+ s old \(written at .+\): "
                            r"the consumer \(pid \d+\) is hung or dead", result.stdout.strip()), result.stdout
    finally:
        consumer.ensure_stopped()
