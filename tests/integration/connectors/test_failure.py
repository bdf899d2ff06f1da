"""A FAILED connector shows at once: `cdc connectors status`, `cdc local status`, the compose
healthcheck's command, and the workers' connector watch."""
from __future__ import annotations

import logging
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from connectors.settings import ConnectorSettings
from connectors.template import render
from core.connector_watch import ConnectorWatch
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient
from core.settings import ConnectorWatchSettings
from tests.support.cli import REPOSITORY, run_cdc
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

pytestmark = pytest.mark.integration

FAILURE = "Publication autocreation is disabled"


def _env_of_own_connector(stack_env: dict[str, str]) -> dict[str, str]:
    uid = uuid.uuid4().hex[:8]
    return {**stack_env, "CONNECTOR_NAME": f"test-failing-{uid}", "SLOT_NAME": f"test_failing_{uid}",
            "TOPIC_PREFIX": f"testfailing{uid}"}


def _register_without_publication(env: dict[str, str]) -> str:
    """The connector's own config, but naming a publication that does not exist: its task fails on start."""
    name, config = render(ConnectorSettings.from_env(env))
    ConnectClient(env["CONNECT_URL"]).put_config(name, {**config, "publication.name": "no_such_publication"})
    return name


def _wait_until_failed(env: dict[str, str], name: str, timeout: float = 60) -> None:
    client = ConnectClient(env["CONNECT_URL"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.status(name).failed:
                return
        except ConnectorError:
            pass  # 404 for a moment after the PUT
        time.sleep(0.5)
    raise AssertionError(f"connector {name} did not fail within {timeout:.0f}s")


def _delete(env: dict[str, str], name: str) -> None:
    client = ConnectClient(env["CONNECT_URL"])
    if name in client.connectors():
        client.delete(name)


@pytest.fixture(scope="module")
def failed_connector(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Env whose CONNECTOR_NAME is a registered connector with a FAILED task (it never creates its slot)."""
    env = _env_of_own_connector(stack_env)
    name = _register_without_publication(env)
    try:
        _wait_until_failed(env, name)
        yield env
    finally:
        _delete(env, name)


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
    env = _env_of_own_connector(stack_env)
    settings = ConnectorWatchSettings(env["CONNECT_URL"], env["CONNECTOR_NAME"], interval_seconds=1.0)
    watch = ConnectorWatch(settings)
    with caplog.at_level(logging.INFO, logger="core.connector_watch"):
        watch.start()
        try:
            time.sleep(1.5)  # one check while the connector does not exist yet
            name = _register_without_publication(env)
            _wait_until_failed(env, name)
            time.sleep(settings.interval_seconds * 2.5)  # the next check sees it
        finally:
            watch.stop()
            _delete(env, env["CONNECTOR_NAME"])

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
