"""A connector of the test's own whose task FAILS on start: its config names a publication that does not exist."""
from __future__ import annotations

import time
import uuid

from connectors.settings import ConnectorSettings
from connectors.template import render
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient

# What the failed task's trace says.
FAILURE = "Publication autocreation is disabled"


def env_of_own_connector(stack_env: dict[str, str]) -> dict[str, str]:
    uid = uuid.uuid4().hex[:8]
    return {**stack_env, "CONNECTOR_NAME": f"test-failing-{uid}", "SLOT_NAME": f"test_failing_{uid}",
            "TOPIC_PREFIX": f"testfailing{uid}"}


def register_without_publication(env: dict[str, str]) -> str:
    """The connector's own config, but naming a publication that does not exist: its task fails on start."""
    name, config = render(ConnectorSettings.from_env(env))
    ConnectClient(env["CONNECT_URL"]).put_config(name, {**config, "publication.name": "no_such_publication"})
    return name


def wait_until_failed(env: dict[str, str], name: str, timeout: float = 60) -> None:
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


def delete_connector(env: dict[str, str], name: str) -> None:
    client = ConnectClient(env["CONNECT_URL"])
    if name in client.connectors():
        client.delete(name)
