"""The local stack's Kafka Connect: no password in what its REST API returns, no plugin but the pipeline's."""
from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.password_reference import PASSWORD_REFERENCE
from connectors.settings import ConnectorSettings
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient

pytestmark = pytest.mark.integration

POSTGRES_CONNECTOR = "io.debezium.connector.postgresql.PostgresConnector"


def rest_get(env: dict[str, str], path: str) -> Any:
    with urllib.request.urlopen(env["CONNECT_URL"] + path, timeout=10) as response:
        return json.loads(response.read())


def password_values(configs: list[dict[str, str]]) -> list[str]:
    return [value for config in configs for key, value in config.items() if "password" in key]


@pytest.fixture
def file_sink_name(stack_env: dict[str, str]) -> Iterator[str]:
    name = f"test-file-sink-{uuid.uuid4().hex[:8]}"
    yield name
    client = ConnectClient(stack_env["CONNECT_URL"])
    if name in client.connectors():
        client.delete(name)


def test_the_connector_config_connect_returns_holds_the_password_reference(stack_env: dict[str, str]) -> None:
    name = ConnectorSettings.from_env(stack_env).name

    config = rest_get(stack_env, f"/connectors/{name}/config")
    info = rest_get(stack_env, f"/connectors/{name}")

    assert password_values([config, info["config"]]) == [PASSWORD_REFERENCE, PASSWORD_REFERENCE]


def test_the_task_configs_connect_returns_hold_the_password_reference(stack_env: dict[str, str]) -> None:
    name = ConnectorSettings.from_env(stack_env).name

    tasks = rest_get(stack_env, f"/connectors/{name}/tasks")

    assert tasks and password_values([task["config"] for task in tasks]) == [PASSWORD_REFERENCE] * len(tasks)


def test_connect_offers_no_connector_plugin_but_debeziums_postgres_connector(stack_env: dict[str, str]) -> None:
    plugins = rest_get(stack_env, "/connector-plugins")

    assert [plugin["class"] for plugin in plugins] == [POSTGRES_CONNECTOR]


def test_connect_refuses_to_create_a_filestream_sink_connector(stack_env: dict[str, str], file_sink_name: str) -> None:
    client = ConnectClient(stack_env["CONNECT_URL"])
    config = {"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
              "topics": "shop.public.users", "file": f"/tmp/{file_sink_name}.txt"}

    with pytest.raises(ConnectorError, match="FileStreamSinkConnector"):
        client.put_config(file_sink_name, config)

    assert file_sink_name not in client.connectors()
