"""Kafka Connect's REST API: connector config, status, offsets, and waiting for states."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from core.errors import ConnectorError

TRACE_LINES = 8


@dataclass(frozen=True)
class ConnectorStatus:
    name: str
    connector_state: str
    task_states: tuple[str, ...]
    trace: str | None = None
    failed_task_ids: tuple[int, ...] = ()
    task_ids: tuple[int, ...] = ()  # in the order of task_states

    @property
    def running(self) -> bool:
        return (
            self.connector_state == "RUNNING"
            and bool(self.task_states)
            and all(state == "RUNNING" for state in self.task_states)
        )

    @property
    def failed(self) -> bool:
        return self.connector_state == "FAILED" or "FAILED" in self.task_states

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ConnectorStatus:
        tasks = body.get("tasks", [])
        traces = [body["connector"].get("trace")] + [task.get("trace") for task in tasks]
        return cls(
            name=body["name"],
            connector_state=body["connector"]["state"],
            task_states=tuple(task["state"] for task in tasks),
            trace=next((trace for trace in traces if trace), None),
            failed_task_ids=tuple(int(task["id"]) for task in tasks if task["state"] == "FAILED"),
            task_ids=tuple(int(task["id"]) for task in tasks),
        )

    def describe(self) -> str:
        tasks = ", ".join(self.task_states) or "no tasks yet"
        return f"{self.name}: connector {self.connector_state}, tasks [{tasks}]"


def _error_message(body: bytes) -> str:
    text = body.decode(errors="replace")
    try:
        return str(json.loads(text)["message"])[:2000]
    except (ValueError, KeyError, TypeError):
        return text[:2000]


def first_lines(trace: str, count: int = TRACE_LINES) -> str:
    return "\n".join(trace.strip().splitlines()[:count])


def restart_advice(base_url: str, status: ConnectorStatus) -> str:
    """How to bring a FAILED connector back once its cause is fixed (Connect never restarts it by itself)."""
    url = f"{base_url.rstrip('/')}/connectors/{status.name}"
    if status.connector_state == "FAILED":
        requests = [f"curl -X POST '{url}/restart?includeTasks=true&onlyFailed=true'"]
    else:
        requests = [f"curl -X POST {url}/tasks/{task_id}/restart" for task_id in status.failed_task_ids]
    return ("fix the cause (trace: `cdc connectors status`), then restart: "
            + " ; ".join(requests) + " (or `cdc connectors apply`)")


REBALANCE_WAIT_SECONDS = 30.0


class _Rebalancing(Exception):
    """Kafka Connect cannot answer while its worker group rebalances: worth asking again shortly."""


class ConnectClient:
    def __init__(self, base_url: str, *, request_timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.request_timeout = request_timeout

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One REST call; while the worker rebalances (it answers 409 or 500 "... rebalance ...", e.g. just
        after it started on a new broker) the call is repeated for up to REBALANCE_WAIT_SECONDS."""
        deadline = time.monotonic() + REBALANCE_WAIT_SECONDS
        while True:
            try:
                return self._request_once(method, path, body)
            except _Rebalancing as exc:
                if time.monotonic() >= deadline:
                    raise ConnectorError(str(exc)) from exc
                time.sleep(1.0)

    def _request_once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.request_timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            message = f"Kafka Connect answered {exc.code} to {method} {path}: {_error_message(exc.read())}"
            if exc.code in (409, 500) and "rebalance" in message.lower():
                raise _Rebalancing(message) from exc
            raise ConnectorError(message) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectorError(
                f"Kafka Connect is unreachable at {self.base_url} (CONNECT_URL): {reason}"
            ) from exc
        return json.loads(payload) if payload else None

    def is_up(self) -> bool:
        try:
            self._request("GET", "/")
        except ConnectorError:
            return False
        return True

    def put_config(self, name: str, config: dict[str, str]) -> None:
        """Create or update. Kafka Connect restarts the connector even when the config is the same."""
        self._request("PUT", f"/connectors/{name}/config", config)

    def config(self, name: str) -> dict[str, str] | None:
        """The connector's stored config (with its "name"), or None when there is no such connector."""
        if name not in self.connectors():
            return None
        return dict(self._request("GET", f"/connectors/{name}/config"))

    def status(self, name: str) -> ConnectorStatus:
        return ConnectorStatus.from_json(self._request("GET", f"/connectors/{name}/status"))

    def connectors(self) -> list[str]:
        return list(self._request("GET", "/connectors"))

    def delete(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{name}")

    # Offsets (Kafka Connect 3.6+, KIP-875): read and set a connector's source position while it is STOPPED.

    def stop(self, name: str) -> None:
        """Stop the connector and its tasks (they keep their config and offsets; `resume` starts them)."""
        self._request("PUT", f"/connectors/{name}/stop")

    def resume(self, name: str) -> None:
        self._request("PUT", f"/connectors/{name}/resume")

    def offsets(self, name: str) -> list[dict[str, Any]]:
        """The connector's stored source offsets (for Debezium: the WAL position it confirmed)."""
        return list(self._request("GET", f"/connectors/{name}/offsets")["offsets"])

    def alter_offsets(self, name: str, offsets: list[dict[str, Any]]) -> None:
        self._request("PATCH", f"/connectors/{name}/offsets", {"offsets": offsets})

    def create_stopped(self, name: str, config: dict[str, str]) -> None:
        """Create the connector without starting it (so that its offsets can be set first)."""
        self._request("POST", "/connectors", {"name": name, "config": config, "initial_state": "STOPPED"})

    def wait_until_stopped(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.status(name).connector_state != "STOPPED":
            if time.monotonic() > deadline:
                raise ConnectorError(f"connector {name} not STOPPED after {timeout:.0f}s")
            time.sleep(0.3)

    def restart_failed(self, name: str) -> None:
        """Restart the connector and its FAILED tasks (Connect 3.0+); RUNNING tasks are left alone."""
        self._request("POST", f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true")

    def wait_until_running(self, name: str, timeout: float, steady: float = 0.0) -> ConnectorStatus:
        """Until the connector and every task are RUNNING, and have stayed so for `steady` seconds."""
        deadline = time.monotonic() + timeout
        last: ConnectorStatus | str = "no status yet"
        running_since: float | None = None
        while time.monotonic() < deadline:
            try:
                status = self.status(name)
            except ConnectorError as exc:
                last = str(exc)  # 404 for a moment right after the PUT
            else:
                if status.failed:
                    raise ConnectorError(
                        f"connector {status.describe()}\n{first_lines(status.trace or 'no trace')}"
                    )
                if not status.running:
                    running_since = None
                elif running_since is None:
                    running_since = time.monotonic()
                if running_since is not None and time.monotonic() - running_since >= steady:
                    return status
                last = status
            time.sleep(0.5)
        described = last.describe() if isinstance(last, ConnectorStatus) else last
        raise ConnectorError(f"connector {name} not RUNNING after {timeout:.0f}s; last seen: {described}")


def wait_for_connect(client: ConnectClient, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.is_up():
            return
        time.sleep(0.5)
    raise ConnectorError(f"Kafka Connect is unreachable at {client.base_url} (CONNECT_URL) after {timeout:.0f}s")
