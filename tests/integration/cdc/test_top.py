"""`cdc top --once` against the real pipeline: exit 0 and the key lines while everything runs; exit 1 and the line
naming the connector when its task FAILED."""
from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cdc
from tests.support.failing_connector import (
    delete_connector,
    env_of_own_connector,
    register_without_publication,
    wait_until_failed,
)
from tests.support.monitoring import metrics_process

pytestmark = pytest.mark.integration

# The private consumer and marts worker read the shared topics from their start: the session's history first
# (lag and freshness are above the limit until they are through it).
CATCH_UP_TIMEOUT = 300.0
# Until a stage applied its first change (at the latest the Debezium heartbeat's, every 10 s) its lag is unknown.
NOTHING_APPLIED = "has applied no change yet"


def top_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cdc("top", "--once", "--interval", "1", env=env, timeout=60)


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("│")[1:-1]]


def table_row(output: str, first: str, *more: str) -> list[str]:
    """The cells of the table row whose first cells are `first`, `more`."""
    wanted = [first, *more]
    rows = [cells(line) for line in output.splitlines() if line.startswith("│")]
    match = [row for row in rows if row[: len(wanted)] == wanted]
    assert match, f"no row {wanted} in:\n{output}"
    return match[0]


@pytest.fixture(scope="module")
def pipeline(monitored_env: dict[str, str]) -> dict[str, str]:
    return monitored_env


@pytest.fixture(scope="module")
def healthy(pipeline: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`cdc top --once` once it says healthy with both stages' lag known (after the workers caught up), or its
    last run."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    while True:
        result = top_once(pipeline)
        if (result.returncode == 0 and NOTHING_APPLIED not in result.stdout) or time.monotonic() >= deadline:
            return result
        time.sleep(2.0)


def test_top_once_exits_0_and_says_healthy_while_the_pipeline_runs(healthy: subprocess.CompletedProcess[str]) -> None:
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert healthy.stdout.splitlines()[-1] == "healthy"
    assert "problem:" not in healthy.stdout
    assert NOTHING_APPLIED not in healthy.stdout


def test_top_once_shows_the_running_connector_and_task(pipeline: dict[str, str],
                                                       healthy: subprocess.CompletedProcess[str]) -> None:
    name = pipeline.get("CONNECTOR_NAME", "shop-postgres")

    assert table_row(healthy.stdout, name, "-") == [name, "-", "RUNNING"]
    assert table_row(healthy.stdout, name, "0") == [name, "0", "RUNNING"]


@pytest.mark.parametrize("stage", ["replica", "marts"])
def test_top_once_shows_each_stages_lag_in_seconds_and_messages(stage: str,
                                                                healthy: subprocess.CompletedProcess[str]) -> None:
    row = table_row(healthy.stdout, stage)
    lag_messages, lag_seconds, paused = row[2], row[3], row[7]

    assert lag_messages.isdigit(), row
    assert lag_seconds.endswith(" s") and float(lag_seconds.removesuffix(" s")) <= 60, row
    assert paused == "no", row


def test_top_once_shows_each_marts_freshness(healthy: subprocess.CompletedProcess[str]) -> None:
    for mart in ("sales_by_category", "user_activity"):
        freshness = table_row(healthy.stdout, mart)[1]
        assert freshness.endswith(" s") and float(freshness.removesuffix(" s")) <= 60, freshness


def test_top_once_shows_every_endpoint_up(pipeline: dict[str, str], healthy: subprocess.CompletedProcess[str]) -> None:
    for endpoint, variable in (("consumer", "CONSUMER_METRICS_URL"), ("marts", "MARTS_METRICS_URL"),
                               ("exporter", "EXPORTER_METRICS_URL")):
        assert table_row(healthy.stdout, endpoint, pipeline[variable]) == [endpoint, pipeline[variable], "up"]


@pytest.fixture
def failed_connector_exporter(pipeline: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """The pipeline's env, its EXPORTER_METRICS_URL an exporter watching a connector whose task FAILED."""
    env = env_of_own_connector(pipeline)
    name = register_without_publication(env)
    try:
        wait_until_failed(env, name)
        with metrics_process("exporter", env, tmp_path) as (url, _):
            yield {**env, "EXPORTER_METRICS_URL": url}
    finally:
        delete_connector(env, name)


def test_top_once_exits_1_naming_the_failed_task(failed_connector_exporter: dict[str, str]) -> None:
    env, name = failed_connector_exporter, failed_connector_exporter["CONNECTOR_NAME"]
    deadline = time.monotonic() + 30
    result = top_once(env)
    while f"problem: connector {name} task 0 is FAILED" not in result.stdout and time.monotonic() < deadline:
        time.sleep(1.0)  # the exporter's first reading
        result = top_once(env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"problem: connector {name} task 0 is FAILED" in result.stdout.splitlines()
    assert table_row(result.stdout, name, "0") == [name, "0", "FAILED"]
    assert result.stdout.splitlines()[-1].startswith("FAILING: ")
