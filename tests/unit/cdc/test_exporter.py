"""The exporter's settings and the recording of its readings (core.metrics)."""
from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cdc.exporter.readings import SlotReading, read_slots, record_connector, record_slots
from cdc.exporter.settings import ExporterSettings
from core.kafka_connect import ConnectorStatus
from core.metrics import ExporterMetrics, register_exporter_metrics


def values(metrics: ExporterMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = generate_latest(metrics.registry).decode()
    return {tuple(sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples if sample.name == name}


def ones(metrics: ExporterMetrics, name: str) -> list[dict[str, str]]:
    return [dict(labels) for labels, value in values(metrics, name).items() if value == 1]


class FakeCursor:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.executed: list[str] = []

    def execute(self, sql: str) -> None:
        self.executed.append(sql)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def test_settings_default_to_port_9110_on_loopback_every_5_seconds() -> None:
    settings = ExporterSettings.from_env({"PG_DSN": "postgresql://u@h/db", "CONNECT_URL": "http://c:8083/"})
    assert (settings.port, settings.host, settings.interval, settings.connect_url, settings.connector,
            settings.slot) == (9110, "127.0.0.1", 5.0, "http://c:8083", "shop-postgres", "cdc_shop")


def test_settings_read_the_port_host_and_interval() -> None:
    settings = ExporterSettings.from_env({"PG_DSN": "postgresql://u@h/db", "CONNECT_URL": "http://c:8083",
                                          "EXPORTER_METRICS_PORT": "9999", "EXPORTER_METRICS_HOST": "0.0.0.0",
                                          "EXPORTER_INTERVAL_SECONDS": "0.5", "SLOT_NAME": "s1"})
    assert (settings.port, settings.host, settings.interval, settings.slot) == (9999, "0.0.0.0", 0.5, "s1")


def test_slot_rows_become_readings() -> None:
    assert read_slots(FakeCursor([("cdc_shop", True, 4096), ("old", False, None)])) == [
        SlotReading("cdc_shop", True, 4096), SlotReading("old", False, None)]


def test_slots_are_recorded_with_their_retained_wal() -> None:
    metrics = register_exporter_metrics(CollectorRegistry())
    record_slots(metrics, [SlotReading("cdc_shop", True, 4096), SlotReading("old", False, None)], "cdc_shop")
    assert (values(metrics, "cdc_slot_active"), values(metrics, "cdc_slot_retained_wal_bytes")) == (
        {(("slot", "cdc_shop"),): 1, (("slot", "old"),): 0}, {(("slot", "cdc_shop"),): 4096})


def test_a_missing_connector_slot_is_reported_inactive() -> None:
    metrics = register_exporter_metrics(CollectorRegistry())
    record_slots(metrics, [], "cdc_shop")
    assert values(metrics, "cdc_slot_active") == {(("slot", "cdc_shop"),): 0}


def test_a_slot_dropped_since_the_last_reading_disappears() -> None:
    metrics = register_exporter_metrics(CollectorRegistry())
    record_slots(metrics, [SlotReading("old", True, 1)], "old")
    record_slots(metrics, [SlotReading("cdc_shop", True, 2)], "cdc_shop")
    assert values(metrics, "cdc_slot_retained_wal_bytes") == {(("slot", "cdc_shop"),): 2}


def test_the_connector_and_each_task_have_their_current_state() -> None:
    metrics = register_exporter_metrics(CollectorRegistry())
    status = ConnectorStatus("c", "RUNNING", ("RUNNING", "FAILED"), task_ids=(0, 1))
    record_connector(metrics, "c", status)
    assert (ones(metrics, "cdc_connector_state"), ones(metrics, "cdc_connector_task_state")) == (
        [{"connector": "c", "state": "RUNNING"}],
        [{"connector": "c", "state": "RUNNING", "task": "0"}, {"connector": "c", "state": "FAILED", "task": "1"}])


def test_a_connector_that_does_not_exist_is_missing_without_tasks() -> None:
    metrics = register_exporter_metrics(CollectorRegistry())
    record_connector(metrics, "c", ConnectorStatus("c", "RUNNING", ("RUNNING",), task_ids=(0,)))
    record_connector(metrics, "c", None)
    assert (ones(metrics, "cdc_connector_state"), values(metrics, "cdc_connector_task_state")) == (
        [{"connector": "c", "state": "MISSING"}], {})


def test_task_ids_come_from_connects_status_answer() -> None:
    status = ConnectorStatus.from_json({"name": "c", "connector": {"state": "RUNNING"},
                                        "tasks": [{"id": 3, "state": "RUNNING"}]})
    assert status.task_ids == (3,)
