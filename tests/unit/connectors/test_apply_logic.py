"""apply_connector's decisions, against a scripted Kafka Connect (the REST calls are faked)."""
from __future__ import annotations

from typing import Any

import pytest

from connectors import apply as connect_apply
from connectors.apply import apply_connector
from connectors.password_reference import PASSWORD_REFERENCE, UNRESOLVED_HINT
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient, ConnectorStatus

RUNNING = ConnectorStatus("c", "RUNNING", ("RUNNING",), None)
UNASSIGNED = ConnectorStatus("c", "UNASSIGNED", ("RUNNING",), None)
TASK_FAILED = ConnectorStatus("c", "RUNNING", ("FAILED",), "org.Boom", (0,))
REFUSED_PASSWORD = 'FATAL: password authentication failed for user "debezium"'
WITH_REFERENCE = {"a": "1", "database.password": PASSWORD_REFERENCE}


class ScriptedConnect(ConnectClient):
    def __init__(self, stored: dict[str, str] | None, statuses: list[ConnectorStatus]) -> None:
        super().__init__("http://connect.invalid")
        self.stored, self.statuses, self.puts, self.restarts = stored, statuses, 0, 0

    def config(self, name: str) -> dict[str, str] | None:
        return self.stored

    def put_config(self, name: str, config: dict[str, str]) -> None:
        self.puts += 1

    def restart_failed(self, name: str) -> None:
        self.restarts += 1

    def status(self, name: str) -> ConnectorStatus:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class RefusingConnect(ScriptedConnect):
    """Answers the PUT as Kafka Connect does when the connector's validation fails."""

    def __init__(self, message: str) -> None:
        super().__init__(None, [RUNNING])
        self.message = message

    def put_config(self, name: str, config: dict[str, str]) -> None:
        raise ConnectorError(f"Kafka Connect answered 400 to PUT /connectors/{name}/config: {self.message}")


def no_sleep(monkeypatch: Any) -> None:
    clock = iter(range(10**6))
    monkeypatch.setattr(connect_apply.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(connect_apply.time, "monotonic", lambda: float(next(clock)))


def test_an_unchanged_config_is_not_put_again(monkeypatch: Any) -> None:
    no_sleep(monkeypatch)
    connect = ScriptedConnect({"a": "1", "name": "c"}, [RUNNING])

    applied = apply_connector(connect, "c", {"a": "1"}, timeout=60)

    assert (applied.action, connect.puts) == ("unchanged", 0)


def test_a_new_connector_is_created_and_waited_for(monkeypatch: Any) -> None:
    no_sleep(monkeypatch)
    connect = ScriptedConnect(None, [UNASSIGNED, RUNNING])

    applied = apply_connector(connect, "c", {"a": "1"}, timeout=60)

    assert (applied.action, connect.puts, applied.status) == ("created", 1, RUNNING)


def test_an_update_waits_past_the_old_instance_running_until_the_restarted_one_runs_steadily(
    monkeypatch: Any
) -> None:
    no_sleep(monkeypatch)
    statuses = [RUNNING, UNASSIGNED, UNASSIGNED, RUNNING]  # the old instance, its restart, the new one
    connect = ScriptedConnect({"a": "1", "name": "c"}, statuses)

    applied = apply_connector(connect, "c", {"a": "2"}, timeout=60)

    assert (applied.action, connect.puts) == ("updated", 1)
    assert statuses == [RUNNING]  # every status up to the new instance's was read


def test_an_unchanged_but_failed_connector_is_restarted_and_waited_for(monkeypatch: Any) -> None:
    no_sleep(monkeypatch)
    statuses = [TASK_FAILED, TASK_FAILED, UNASSIGNED, RUNNING]  # seen by apply, then still during the restart
    connect = ScriptedConnect({"a": "1", "name": "c"}, statuses)

    applied = apply_connector(connect, "c", {"a": "1"}, timeout=60)

    assert (applied.action, connect.puts, connect.restarts, applied.status) == ("restarted", 0, 1, RUNNING)


def test_a_refused_password_passed_as_the_reference_comes_with_the_config_provider_hint(monkeypatch: Any) -> None:
    no_sleep(monkeypatch)

    with pytest.raises(ConnectorError) as raised:
        apply_connector(RefusingConnect(REFUSED_PASSWORD), "c", WITH_REFERENCE, timeout=60)

    assert str(raised.value) == (
        f"Kafka Connect answered 400 to PUT /connectors/c/config: {REFUSED_PASSWORD}\n{UNRESOLVED_HINT}"
    )


def test_a_task_failed_on_the_password_comes_with_the_config_provider_hint(monkeypatch: Any) -> None:
    no_sleep(monkeypatch)
    failed = ConnectorStatus("c", "RUNNING", ("FAILED",), f"PSQLException: {REFUSED_PASSWORD}", (0,))

    with pytest.raises(ConnectorError) as raised:
        apply_connector(ScriptedConnect(None, [failed]), "c", WITH_REFERENCE, timeout=60)

    assert str(raised.value).endswith(UNRESOLVED_HINT)


def test_other_errors_pass_unchanged(monkeypatch: Any) -> None:
    no_sleep(monkeypatch)

    with pytest.raises(ConnectorError) as raised:
        apply_connector(RefusingConnect("Connection refused"), "c", WITH_REFERENCE, timeout=60)

    assert str(raised.value) == "Kafka Connect answered 400 to PUT /connectors/c/config: Connection refused"


def test_the_hint_names_what_the_worker_needs() -> None:
    assert "config.providers=env" in UNRESOLVED_HINT
    assert "org.apache.kafka.common.config.provider.EnvVarConfigProvider" in UNRESOLVED_HINT
    assert "DEBEZIUM_PG_PASSWORD set" in UNRESOLVED_HINT
