"""Under live load, a reader of the replica and the marts never sees half of a source transaction.

The module's own stack runs both workers with 4 partitions per source topic;
`cdc generate live --rate 150` runs while `cdc verify --consistency` samples
MySQL in consistent snapshots every 0.2 s. Each of the three invariants holds
at every source commit (cdc/consistency/invariants.py), so no sample may
break one. Fails until the replica and the marts apply whole source
transactions (issue 15).
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdc.consistency.invariants import MARTS_BALANCE, ORDER_TOTALS, REFERENCES
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.pipeline import assert_exact, env_of, own_pipeline, seed, source_partitions

pytestmark = pytest.mark.integration

PARTITIONS = 4
RATE = 150  # shop transactions a second
SAMPLING = 20.0  # seconds
INTERVAL = 0.2
WARM_UP = 2.0  # seconds of load before the sampling starts
MIN_SAMPLES = 60  # of the 100 slots: a slow machine may skip some, not most


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
