"""A second instance of each worker is a hot standby: SIGKILL the active one under live load, the standby
takes over within seconds, and the replica and the marts stay consistent and end exact.

The module's own stack (the invariants need a source only the generator
writes) runs two `cdc consume` and two `cdc marts` as real processes. The
first of each takes its stage's MySQL lock (core.leader); the second waits,
healthy as a standby. During `cdc generate live` and a `cdc verify
--consistency` sampler, the active consumer is SIGKILLed, then the active
marts worker. Measured for each: from the kill to the standby's "active"
log line (it holds the lock), and to its first commit (the stage's row of
cdc_watermark written after the kill: data flows again).
"""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cdc.consistency.invariants import MARTS_BALANCE, ORDER_TOTALS, REFERENCES
from core.watermark import MARTS_STAGE, REPLICA_STAGE
from tests.support.cli import finish_live_load, run_cdc, start_cdc, start_live_load
from tests.support.mysql import mysql_rows
from tests.support.pipeline import assert_exact, env_of, own_pipeline, seed
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

ACTIVE = "core.leader: active: took the lock"
STANDBY = "core.leader: standby: another"
RATE = 150  # shop transactions a second
SAMPLING = 40.0  # seconds of consistency samples, across both failovers
INTERVAL = 0.2
WARM_UP = 2.0  # seconds of load before the sampling starts
BEFORE_KILL = 6.0  # seconds of sampling before the active consumer is killed
TAKEOVER_LIMIT = 30.0  # seconds from a kill to the standby's first commit ("within seconds", with room for CI)
STAGES = {"consumer": (("consume",), REPLICA_STAGE), "marts": (("marts",), MARTS_STAGE)}


@dataclass(frozen=True)
class Takeover:
    lock_s: float  # from the SIGKILL to the standby's "active" log line
    commit_s: float  # from the SIGKILL to the stage's first watermark write after it


@dataclass(frozen=True)
class Failover:
    env: dict[str, str]
    workers: dict[str, tuple[ConsumerProcess, ConsumerProcess]]  # stage -> (first active, standby)
    standby_health: dict[str, subprocess.CompletedProcess[str]]  # `cdc health` of each standby before the kill
    takeovers: dict[str, Takeover]
    invariants: dict[str, Any]  # `cdc verify --consistency --json`, across both failovers


def worker(env: dict[str, str], folder: Path, name: str, number: int) -> ConsumerProcess:
    args, _ = STAGES[name]
    own = {**env, "METRICS_PORT": "0", "MARTS_METRICS_PORT": "0",
           "CONSUMER_HEALTH_FILE": str(folder / f"{name}-{number}-health.json"),
           "MARTS_HEALTH_FILE": str(folder / f"{name}-{number}-health.json"),
           "MARTS_DATA_DIR": str(folder / f"marts-data-{number}")}
    return ConsumerProcess(own, folder / f"{name}-{number}.log", args=args).start()


def mysql_now(env: dict[str, str]) -> datetime:
    [(now,)] = mysql_rows(env, "SELECT UTC_TIMESTAMP(6)")
    assert isinstance(now, datetime)
    return now


def kill_and_time(env: dict[str, str], active: ConsumerProcess, standby: ConsumerProcess, stage: str) -> Takeover:
    """SIGKILL the active worker; the times until the standby holds the lock and until its first commit."""
    active.kill()
    killed = time.monotonic()
    killed_at = mysql_now(env)
    lock_s = None
    while True:
        elapsed = time.monotonic() - killed
        if lock_s is None and ACTIVE in standby.output():
            lock_s = elapsed
        rows = mysql_rows(env, "SELECT applied_at FROM cdc_watermark WHERE stage = %s", (stage,))
        if lock_s is not None and rows and rows[0][0] > killed_at:
            return Takeover(lock_s, elapsed)
        assert elapsed < TAKEOVER_LIMIT, f"no {stage} commit {TAKEOVER_LIMIT:g} s after the kill:\n" \
                                         f"{standby.output()[-3000:]}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def failover() -> Iterator[Failover]:
    with own_pipeline("cdc-failover-stack-", workers=False) as folder:
        env = env_of(folder)
        workers: dict[str, tuple[ConsumerProcess, ConsumerProcess]] = {}
        try:
            for name in STAGES:
                first = worker(env, folder, name, 1)
                first.wait_for_log(ACTIVE)
                second = worker(env, folder, name, 2)
                second.wait_for_log(STANDBY)
                workers[name] = (first, second)
            seed(env, "--users", "200", "--categories", "10", "--products", "120", "--orders", "1500",
                 "--seed", "31")
            assert_exact(env)
            health = {name: run_cdc("health", name, env=standby.env) for name, (_, standby) in workers.items()}
            yield Failover(env, workers, health, *run_failovers(env, workers))
        finally:
            for pair in workers.values():
                for process in pair:
                    process.ensure_stopped()


def run_failovers(env: dict[str, str], workers: dict[str, tuple[ConsumerProcess, ConsumerProcess]]
                  ) -> tuple[dict[str, Takeover], dict[str, Any]]:
    load = start_live_load(env, seed=32, rate=RATE, duration=WARM_UP + SAMPLING + 2)
    time.sleep(WARM_UP)
    sampler = start_cdc("verify", "--consistency", "--duration", str(SAMPLING), "--interval", str(INTERVAL),
                        "--json", env=env)
    time.sleep(BEFORE_KILL)
    takeovers = {}
    for name, (_, stage) in STAGES.items():
        takeovers[name] = kill_and_time(env, *workers[name], stage)
        time.sleep(3)  # the next stage's kill lands on a running pipeline again
    out, err = sampler.communicate(timeout=SAMPLING + 120)
    finish_live_load(load)
    assert sampler.returncode in (0, 1), err[-3000:]
    print(json.dumps({name: vars(takeover) for name, takeover in takeovers.items()}))  # the measured takeovers
    return takeovers, json.loads(out)["invariants"]


@pytest.mark.parametrize("name", list(STAGES))
def test_the_second_worker_waits_as_a_standby_that_counts_as_healthy(failover: Failover, name: str) -> None:
    result = failover.standby_health[name]
    assert (result.returncode, result.stdout.split(":")[:2]) == (0, ["healthy", " standby"])


@pytest.mark.parametrize("name", list(STAGES))
def test_the_standby_takes_over_within_seconds_of_a_sigkill(failover: Failover, name: str) -> None:
    assert failover.takeovers[name].commit_s < TAKEOVER_LIMIT


@pytest.mark.parametrize("name", list(STAGES))
def test_the_standby_said_it_waited_then_took_the_lock_once(failover: Failover, name: str) -> None:
    log = failover.workers[name][1].output()
    assert (STANDBY in log, log.count(ACTIVE)) == (True, 1)
    assert log.rindex(STANDBY) < log.index(ACTIVE)


@pytest.mark.parametrize("name", list(STAGES))
def test_the_standby_runs_on_after_the_takeover(failover: Failover, name: str) -> None:
    standby = failover.workers[name][1]
    assert standby.proc is not None and standby.proc.poll() is None, standby.output()[-3000:]
    assert "Traceback" not in standby.output()


@pytest.mark.parametrize("invariant", [ORDER_TOTALS.name, MARTS_BALANCE.name, REFERENCES.name])
def test_no_snapshot_across_the_failovers_shows_a_torn_transaction(failover: Failover, invariant: str) -> None:
    report = failover.invariants[invariant]
    assert report["samples"] >= SAMPLING / INTERVAL * 0.5
    assert (report["torn"], report["examples"]) == (0, [])


def test_the_replica_and_the_marts_end_exact_after_the_failovers(failover: Failover) -> None:
    assert_exact(failover.env)
