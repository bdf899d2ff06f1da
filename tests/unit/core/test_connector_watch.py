"""The connector watch's decisions: what is logged, once, as the connector's status changes."""
from __future__ import annotations

import logging

import pytest

from core.connector_watch import ConnectorWatch, Health, Observation, decide, health_of
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient, ConnectorStatus
from core.settings import ConnectorWatchSettings

SETTINGS = ConnectorWatchSettings("http://connect:8083", "shop-postgres", 5.0)
RUNNING = ConnectorStatus("shop-postgres", "RUNNING", ("RUNNING",))
TASK_FAILED = ConnectorStatus("shop-postgres", "RUNNING", ("FAILED",), "org.Boom: slot gone\n\tat a\n\tat b", (0,))
RESTARTING = ConnectorStatus("shop-postgres", "RUNNING", ("RESTARTING",))


class ScriptedConnect(ConnectClient):
    """Answers the status calls from a script: a ConnectorStatus, or a ConnectorError to raise."""

    def __init__(self, answers: list[ConnectorStatus | ConnectorError]) -> None:
        super().__init__("http://connect.invalid")
        self.answers = answers

    def status(self, name: str) -> ConnectorStatus:
        answer = self.answers.pop(0)
        if isinstance(answer, ConnectorError):
            raise answer
        return answer


def watch_levels(answers: list[ConnectorStatus | ConnectorError]) -> list[int | None]:
    watch = ConnectorWatch(SETTINGS, ScriptedConnect(answers))
    levels = []
    for _ in range(len(answers)):
        report = watch.check()
        levels.append(report.level if report else None)
    return levels


def test_a_failed_task_is_failed_health() -> None:
    assert health_of(TASK_FAILED) is Health.FAILED


def test_a_restarting_task_is_transient_health() -> None:
    assert health_of(RESTARTING) is Health.TRANSIENT


def test_failure_is_logged_as_error_with_the_trace_and_the_task_restart() -> None:
    report = decide(Health.RUNNING, Observation(Health.FAILED, TASK_FAILED), SETTINGS)

    assert report is not None and report.level == logging.ERROR
    assert report.message == (
        "connector shop-postgres: connector RUNNING, tasks [FAILED]: no changes reach Kafka until it runs again; "
        "fix the cause (trace: `cdc connectors status`), then restart: "
        "curl -X POST http://connect:8083/connectors/shop-postgres/tasks/0/restart (or `cdc connectors apply`)\n"
        "org.Boom: slot gone\n\tat a\n\tat b"
    )


def test_a_failed_connector_is_restarted_with_its_failed_tasks() -> None:
    failed = ConnectorStatus("shop-postgres", "FAILED", (), "org.Boom")

    report = decide(None, Observation(Health.FAILED, failed), SETTINGS)

    assert report is not None
    assert ("curl -X POST 'http://connect:8083/connectors/shop-postgres/restart?includeTasks=true&onlyFailed=true'"
            in report.message)


def test_a_failure_is_logged_once_while_it_lasts() -> None:
    assert watch_levels([RUNNING, TASK_FAILED, TASK_FAILED, TASK_FAILED]) == [logging.DEBUG, logging.ERROR, None, None]


def test_running_again_after_a_failure_is_logged_as_info() -> None:
    assert watch_levels([TASK_FAILED, RESTARTING, RUNNING]) == [logging.ERROR, None, logging.INFO]


def test_unreachable_connect_is_one_warning() -> None:
    down = ConnectorError("Kafka Connect is unreachable at http://connect:8083 (CONNECT_URL): refused")

    assert watch_levels([down, down, down]) == [logging.WARNING, None, None]


def test_reachable_again_and_running_is_logged_as_info() -> None:
    down = ConnectorError("Kafka Connect is unreachable")

    assert watch_levels([down, RUNNING]) == [logging.WARNING, logging.INFO]


def test_a_failure_while_starting_is_still_an_error() -> None:
    assert watch_levels([RESTARTING, TASK_FAILED]) == [None, logging.ERROR]


def test_check_logs_the_error_line_on_the_watch_logger(caplog: pytest.LogCaptureFixture) -> None:
    watch = ConnectorWatch(SETTINGS, ScriptedConnect([TASK_FAILED]))

    with caplog.at_level(logging.INFO, logger="core.connector_watch"):
        watch.check()

    assert [(record.name, record.levelname) for record in caplog.records] == [("core.connector_watch", "ERROR")]


def test_watch_settings_need_connect_url() -> None:
    assert ConnectorWatchSettings.from_env({"CONNECTOR_NAME": "x"}) is None


def test_watch_settings_name_the_connector_as_apply_does() -> None:
    settings = ConnectorWatchSettings.from_env({"CONNECT_URL": "http://c:8083/", "CONNECTOR_WATCH_SECONDS": "2"})

    assert settings == ConnectorWatchSettings("http://c:8083", "shop-postgres", 2.0)
