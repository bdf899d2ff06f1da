"""`cdc health marts` against a real `cdc marts`: unhealthy while MySQL refuses the worker and events wait,
healthy again once it can apply them."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.support.health import wait_for_health
from tests.support.mysql import mysql_outage_account
from tests.support.source import insert_user
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

STALLED = re.compile(r"unhealthy: no progress for \d+ s with input waiting \(1 messages; last batch at .+\)")
CAUGHT_UP = "healthy: caught up, nothing waiting"


def test_health_turns_unhealthy_while_mysql_refuses_the_marts_and_healthy_when_it_is_back(
    replica: dict[str, str], tmp_path: Path
) -> None:
    with mysql_outage_account(replica) as (outage_env, outage):
        env = {**outage_env, "MARTS_HEALTH_FILE": str(tmp_path / "marts-health.json"),
               "MARTS_APP_ID": f"test-marts-health-{uuid.uuid4().hex[:10]}",
               "MARTS_DATA_DIR": str(tmp_path / "data"), "MARTS_SESSION_TIMEOUT": "4"}
        worker = ConsumerProcess(env, tmp_path / "marts.log", args=("marts",)).start()
        try:
            # It reads the shared topics from their start: the whole session's history first.
            caught_up = wait_for_health(env, "marts", 0, "--max-stall", "5", timeout=400, verdict=CAUGHT_UP)
            assert caught_up.stdout.startswith(CAUGHT_UP), caught_up.stdout + worker.output()[-3000:]

            outage.begin()
            insert_user(env)  # an event it cannot apply
            worker.wait_for_log("MySQL unavailable")
            stalled = wait_for_health(env, "marts", 1, "--max-stall", "5")
            assert stalled.returncode == 1 and STALLED.fullmatch(stalled.stdout.strip()), stalled.stdout

            outage.end()
            recovered = wait_for_health(env, "marts", 0, "--max-stall", "5", timeout=120, verdict=CAUGHT_UP)
            assert recovered.stdout.startswith(CAUGHT_UP), recovered.stdout
            assert worker.stop() == 0, worker.output()[-3000:]
        finally:
            worker.ensure_stopped()
