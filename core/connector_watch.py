"""The workers' watch on the Debezium connector: a FAILED connector or task shows in their logs.

When the connector or its task fails, Kafka Connect stops it and never
restarts it by itself; the consumer and the marts worker just see no new
messages, which looks like a quiet source. So each worker polls the
connector's status in a daemon thread and logs an ERROR once when it fails
(with the first trace lines and how to restart it), an INFO when it runs
again, and a WARNING once when the status cannot be read (Connect down, no
such connector). The watch never stops the worker: it only reports.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
from dataclasses import dataclass

from core.errors import ConnectorError
from core.kafka_connect import ConnectClient, ConnectorStatus, first_lines, restart_advice
from core.settings import ConnectorWatchSettings, Env

log = logging.getLogger(__name__)

LOGGED_TRACE_LINES = 5
REQUEST_TIMEOUT_SECONDS = 3.0


class Health(enum.Enum):
    RUNNING = "running"
    FAILED = "failed"
    UNKNOWN = "unknown"  # the status could not be read
    TRANSIENT = "transient"  # starting, restarting, paused, unassigned: nothing to report


@dataclass(frozen=True)
class Observation:
    health: Health
    status: ConnectorStatus | None = None
    error: str | None = None


@dataclass(frozen=True)
class Report:
    level: int
    message: str
    health: Health  # what has been reported: the next report is due when this changes


def observe(client: ConnectClient, name: str) -> Observation:
    try:
        status = client.status(name)
    except (ConnectorError, ValueError, KeyError) as exc:  # unreachable, 404, or an answer that is not a status
        return Observation(Health.UNKNOWN, error=str(exc))
    return Observation(health_of(status), status)


def health_of(status: ConnectorStatus) -> Health:
    if status.failed:
        return Health.FAILED
    if status.running:
        return Health.RUNNING
    return Health.TRANSIENT


def decide(reported: Health | None, observation: Observation, settings: ConnectorWatchSettings) -> Report | None:
    """What to log for this observation, given what was reported last; None: nothing."""
    health = observation.health
    if health is Health.TRANSIENT or health is reported:
        return None
    if health is Health.FAILED:
        return Report(logging.ERROR, _failed_message(observation.status, settings), health)
    if health is Health.UNKNOWN:
        return Report(logging.WARNING, f"cannot read connector {settings.name}'s status: {observation.error}; "
                                       f"checking again every {settings.interval_seconds:g} s", health)
    if reported is None:  # running from the start: nothing happened
        return Report(logging.DEBUG, f"connector {settings.name} is running", health)
    assert observation.status is not None
    return Report(logging.INFO, f"connector {observation.status.describe()}: runs again", health)


def _failed_message(status: ConnectorStatus | None, settings: ConnectorWatchSettings) -> str:
    assert status is not None
    trace = first_lines(status.trace or "no trace", LOGGED_TRACE_LINES)
    return (f"connector {status.describe()}: no changes reach Kafka until it runs again; "
            f"{restart_advice(settings.connect_url, status)}\n{trace}")


class ConnectorWatch:
    """Polls the connector's status every interval_seconds in a daemon thread and logs what changes."""

    def __init__(self, settings: ConnectorWatchSettings, client: ConnectClient | None = None) -> None:
        self.settings = settings
        self._client = client or ConnectClient(settings.connect_url, request_timeout=REQUEST_TIMEOUT_SECONDS)
        self._reported: Health | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connector-watch", daemon=True)

    def check(self) -> Report | None:
        """Observe once, log what changed, and return it."""
        report = decide(self._reported, observe(self._client, self.settings.name), self.settings)
        if report is not None:
            log.log(report.level, report.message)
            self._reported = report.health
        return report

    def start(self) -> ConnectorWatch:
        log.info("watching connector %s at %s every %g s", self.settings.name, self.settings.connect_url,
                 self.settings.interval_seconds)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 2)

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # a bug here must not go unnoticed, nor end the watch
                log.exception("connector watch: checking %s failed", self.settings.name)
            if self._stop.wait(self.settings.interval_seconds):
                return


def start_connector_watch(env: Env = os.environ) -> ConnectorWatch | None:
    """Start watching the connector named by the settings; None (and no thread) without CONNECT_URL."""
    settings = ConnectorWatchSettings.from_env(env)
    if settings is None:
        log.info("CONNECT_URL is not set: the connector's status is not watched")
        return None
    return ConnectorWatch(settings).start()
