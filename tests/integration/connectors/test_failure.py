"""A FAILED connector shows at once: `cdc connectors status`, `cdc local status`, the compose
healthcheck's command, and the workers' connector watch."""
from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.connector_watch import ConnectorWatch
from core.settings import ConnectorWatchSettings
from tests.support.cli import REPOSITORY, run_cdc
from tests.support.failing_connector import (
    FAILURE,
    delete_connector,
    env_of_own_connector,
    register_without_publication,
    wait_until_failed,
)
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def failed_connector(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Env whose CONNECTOR_NAME is a registered connector with a FAILED task (it never creates its slot)."""
    env = env_of_own_connector(stack_env)
    name = register_without_publication(env)
    try:
        wait_until_failed(env, name)
        yield env
    finally:
        delete_connector(env, name)


def test_connectors_status_shows_the_failed_task_with_its_trace_and_exits_1(failed_connector: dict[str, str]) -> None:
    name = failed_connector["CONNECTOR_NAME"]

    result = run_cdc("connectors", "status", env=failed_connector)

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{name}: connector RUNNING, tasks [FAILED]"
    assert FAILURE in lines[1]
    assert lines[-1].endswith(f"curl -X POST {failed_connector['CONNECT_URL']}/connectors/{name}/tasks/0/restart "
                              "(or `cdc connectors apply`)")


def test_local_status_marks_the_failed_connector_and_exits_1(failed_connector: dict[str, str],
                                                            stack_dir: Path) -> None:
    name = failed_connector["CONNECTOR_NAME"]

    result = run_cdc("local", "status", "--dir", str(stack_dir))

    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith(f"connector {name} "))
    assert line.split()[2] == "FAILED"
    assert FAILURE in line


def test_compose_connect_healthcheck_command_fails_while_a_task_failed(failed_connector: dict[str, str]) -> None:
    check = yaml.safe_load((REPOSITORY / "docker-compose.yml").read_text())["services"]["connect"]["healthcheck"]["test"]
    command = check[1].replace("http://localhost:8083", failed_connector["CONNECT_URL"])

    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)

    assert result.returncode == 1


def test_watch_warns_while_the_connector_is_missing_then_logs_its_failure(
    stack_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    env = env_of_own_connector(stack_env)
    settings = ConnectorWatchSettings(env["CONNECT_URL"], env["CONNECTOR_NAME"], interval_seconds=1.0)
    watch = ConnectorWatch(settings)
    with caplog.at_level(logging.INFO, logger="core.connector_watch"):
        watch.start()
        try:
            time.sleep(1.5)  # one check while the connector does not exist yet
            name = register_without_publication(env)
            wait_until_failed(env, name)
            time.sleep(settings.interval_seconds * 2.5)  # the next check sees it
        finally:
            watch.stop()
            delete_connector(env, env["CONNECTOR_NAME"])

    records = [record for record in caplog.records if record.name == "core.connector_watch"]
    assert [record.levelname for record in records] == ["INFO", "WARNING", "ERROR"]
    error = records[-1].getMessage()
    assert error.startswith(f"connector {name}: connector RUNNING, tasks [FAILED]: no changes reach Kafka")
    assert FAILURE in error


def test_consumer_worker_logs_the_connectors_failure(failed_connector: dict[str, str], tmp_path: Path) -> None:
    with private_replica({**failed_connector, "CONNECTOR_WATCH_SECONDS": "1"}) as env:
        process = ConsumerProcess(env, tmp_path / "consumer.log").start()
        try:
            deadline = time.monotonic() + 30
            while "ERROR core.connector_watch" not in process.output() and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            process.ensure_stopped()

    error = next(line for line in process.output().splitlines() if "ERROR core.connector_watch" in line)
    assert error.endswith(f"connector {failed_connector['CONNECTOR_NAME']}: connector RUNNING, tasks [FAILED]: "
                          "no changes reach Kafka until it runs again; fix the cause (trace: `cdc connectors status`), "
                          f"then restart: curl -X POST {failed_connector['CONNECT_URL']}/connectors/"
                          f"{failed_connector['CONNECTOR_NAME']}/tasks/0/restart (or `cdc connectors apply`)")
