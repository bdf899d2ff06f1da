"""Create or update the connector on Kafka Connect and wait until it runs."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from connectors.password_reference import unresolved_password_hint
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient, ConnectorStatus

log = logging.getLogger(__name__)

UPDATE_STEADY_SECONDS = 3.0
RESTART_NOTICE_SECONDS = 10.0


@dataclass(frozen=True)
class AppliedConnector:
    action: str  # created, updated, restarted (unchanged but FAILED) or unchanged
    status: ConnectorStatus

    def describe(self) -> str:
        return f"{self.action}; {self.status.describe()}"


def apply_connector(client: ConnectClient, name: str, config: dict[str, str], timeout: float) -> AppliedConnector:
    """Create the connector, update it if its config differs, and wait until it runs.

    An unchanged config is not PUT again: Kafka Connect would restart the connector for nothing.
    An unchanged but FAILED connector is restarted with its failed tasks (the cause may be fixed now).
    After an update, the status read right after the PUT can still be the old instance's RUNNING
    (the restart comes a moment later), so the connector must stay RUNNING for UPDATE_STEADY_SECONDS.
    A password refused by the database comes with a hint on the worker's config provider.
    """
    try:
        return _apply(client, name, config, timeout)
    except ConnectorError as exc:
        hint = unresolved_password_hint(str(exc), config)
        if hint is None:
            raise
        raise ConnectorError(f"{exc}\n{hint}") from exc


def _apply(client: ConnectClient, name: str, config: dict[str, str], timeout: float) -> AppliedConnector:
    current = client.config(name)
    if current == {**config, "name": name}:
        log.info("connector %s on %s is up to date", name, client.base_url)
        if client.status(name).failed:
            _restart_failed(client, name)
            return AppliedConnector("restarted", client.wait_until_running(name, timeout, UPDATE_STEADY_SECONDS))
        return AppliedConnector("unchanged", client.wait_until_running(name, timeout))
    action = "created" if current is None else "updated"
    log.info("%s connector %s on %s", action, name, client.base_url)
    client.put_config(name, config)
    steady = 0.0 if current is None else UPDATE_STEADY_SECONDS
    return AppliedConnector(action, client.wait_until_running(name, timeout, steady))


def _restart_failed(client: ConnectClient, name: str) -> None:
    log.info("connector %s FAILED: restarting it and its failed tasks", name)
    client.restart_failed(name)
    deadline = time.monotonic() + RESTART_NOTICE_SECONDS
    # The status still says FAILED for a moment after Connect accepted the restart.
    while client.status(name).failed and time.monotonic() < deadline:
        time.sleep(0.2)
