"""Static checks of the Grafana dashboard compose provisions (docker/grafana): its queries name only metrics
the pipeline exports (core/metrics.py), through the datasource that is provisioned."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.metrics import series_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "docker" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "cdc-pipeline.json").read_text())
DATASOURCES = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
PROVIDERS = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "cdc.yml").read_text())["providers"]
COMPOSE_GRAFANA = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]

# Series Prometheus makes itself for every scrape target, not exported by the pipeline.
PROMETHEUS_SERIES = frozenset({"up"})
PROMQL_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                             "and", "or", "unless", "offset", "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions, keywords or labels."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery durations
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    identifiers = re.finditer(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?", expr)
    return {match.group(1) for match in identifiers
            if not match.group(2) and match.group(1).lower() not in PROMQL_KEYWORDS}


def panels() -> Iterator[dict[str, Any]]:
    for panel in DASHBOARD["panels"]:
        yield panel
        yield from panel.get("panels", [])  # inside a collapsed row


def targets() -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in panels():
        for target in panel.get("targets", []):
            yield panel["title"], target


def all_metric_names() -> set[str]:
    return {name for _, target in targets() for name in metric_names(target["expr"])}


def test_metric_names_of_an_expression_skip_functions_labels_durations_and_keywords() -> None:
    expr = ('histogram_quantile(0.95, sum by (stage, le) (rate(cdc_commit_to_apply_seconds_bucket'
            '{stage="replica"}[$__rate_interval]))) > on (stage) group_left up offset 5m')

    assert metric_names(expr) == {"cdc_commit_to_apply_seconds_bucket", "up"}


def test_every_panel_has_a_query() -> None:
    for panel in panels():
        if panel["type"] != "row":
            assert [target["expr"] for target in panel.get("targets", []) if target.get("expr")], panel["title"]


def test_every_query_reads_only_metrics_the_pipeline_exports() -> None:
    exported = series_names() | PROMETHEUS_SERIES
    for title, target in targets():
        unknown = metric_names(target["expr"]) - exported
        assert not unknown, f"panel {title!r}: {target['expr']!r} reads {sorted(unknown)}, which no endpoint exports"


@pytest.mark.parametrize("subject", [
    "cdc_replica_lag_seconds", "cdc_mart_freshness_seconds", "cdc_changes_applied_total", "cdc_dead_letters_total",
    "cdc_slot_retained_wal_bytes", "cdc_connector_state", "cdc_connector_task_state",
])
def test_the_dashboard_shows(subject: str) -> None:
    assert subject in all_metric_names()


def test_exactly_one_datasource_is_provisioned_and_it_is_the_compose_prometheus() -> None:
    assert [(source["type"], source["url"]) for source in DATASOURCES] == [("prometheus", "http://prometheus:9090")]


def test_every_panel_and_query_uses_the_provisioned_datasource() -> None:
    provisioned = {"type": "prometheus", "uid": DATASOURCES[0]["uid"]}
    for panel in panels():
        assert panel["datasource"] == provisioned, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == provisioned, panel["title"]


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in panels()]

    assert len(ids) == len(set(ids))


def test_the_dashboard_provider_reads_the_folder_compose_mounts_the_dashboards_on() -> None:
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in COMPOSE_GRAFANA["volumes"] if volume.startswith("./"))

    assert mounts["./docker/grafana/dashboards"] == PROVIDERS[0]["options"]["path"]
    assert mounts["./docker/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_grafanas_home_dashboard_is_the_provisioned_file() -> None:
    home = COMPOSE_GRAFANA["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]

    assert home == f"{PROVIDERS[0]['options']['path']}/cdc-pipeline.json"
