"""The exporter's loop: read PostgreSQL and Kafka Connect every `interval` seconds until stopped."""
from __future__ import annotations

import logging
import threading

import psycopg2
from prometheus_client import CollectorRegistry

from cdc.exporter.readings import clear_connector, clear_slots, read_slots, record_connector, record_slots
from cdc.exporter.settings import ExporterSettings
from core.errors import CdcError
from core.kafka_connect import ConnectClient
from core.metrics import ExporterMetrics, register_exporter_metrics, serve

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5


class Exporter:
    def __init__(self, settings: ExporterSettings, metrics: ExporterMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or register_exporter_metrics(CollectorRegistry())
        self.connect = ConnectClient(settings.connect_url, request_timeout=CONNECT_TIMEOUT_SECONDS)
        self._pg: psycopg2.extensions.connection | None = None
        self._failing: set[str] = set()  # sources whose last reading failed (logged once per outage)

    def read_once(self) -> None:
        self._read_postgres()
        self._read_connect()

    def _read_postgres(self) -> None:
        try:
            with self._postgres().cursor() as cursor:
                slots = read_slots(cursor)
        except psycopg2.Error as exc:
            self._close_postgres()
            clear_slots(self.metrics)
            self._failed("postgres", exc)
            return
        record_slots(self.metrics, slots, self.settings.slot)
        self._succeeded("postgres")

    def _read_connect(self) -> None:
        name = self.settings.connector
        try:
            status = self.connect.status(name) if name in self.connect.connectors() else None
        except CdcError as exc:  # ConnectorError: unreachable, or an error answer
            clear_connector(self.metrics)
            self._failed("connect", exc)
            return
        record_connector(self.metrics, name, status)
        self._succeeded("connect")

    def _postgres(self) -> psycopg2.extensions.connection:
        if self._pg is None:
            self._pg = psycopg2.connect(self.settings.pg_dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                        application_name="cdc-exporter")
            self._pg.autocommit = True
        return self._pg

    def _close_postgres(self) -> None:
        if self._pg is not None:
            try:
                self._pg.close()
            except psycopg2.Error:
                pass
            self._pg = None

    def _failed(self, source: str, exc: BaseException) -> None:
        self.metrics.scrape_errors.labels(source).inc()
        if source not in self._failing:
            log.warning("cannot read %s: %s", source, str(exc).strip())
            self._failing.add(source)

    def _succeeded(self, source: str) -> None:
        if source in self._failing:
            log.info("reading %s again", source)
            self._failing.discard(source)

    def run(self, stop: threading.Event) -> None:
        """Read, serve the metrics, and read again every `interval` seconds until `stop` is set."""
        self.read_once()  # the first scrape finds every series
        server = serve(self.metrics.registry, self.settings.port, self.settings.host)
        try:
            while not stop.wait(self.settings.interval):
                self.read_once()
        finally:
            server.shutdown()
            server.server_close()
            self._close_postgres()
