"""`cdc local up|status|down` as a user runs it: the whole pipeline, detached, and `down` removes it completely."""
from __future__ import annotations

import json
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cdc.local.processes import ProcessRecord, kill_now
from tests.support.cli import run_cdc

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class CliStack:
    folder: Path
    up_output: str  # stdout and stderr of the `cdc local up` that started it


@pytest.fixture(scope="module")
def cli_up() -> Iterator[CliStack]:
    folder = Path(tempfile.mkdtemp(prefix="cdc-cli-stack-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        result = run_cdc("local", "up", "--dir", str(folder))
        assert result.returncode == 0, result.stdout + result.stderr
        yield CliStack(folder, result.stdout + result.stderr)
    finally:
        run_cdc("local", "down", "--dir", str(folder))
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cli_stack(cli_up: CliStack) -> Path:
    return cli_up.folder


def _stack_env(folder: Path) -> dict[str, str]:
    lines = (folder / "stack.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _records(folder: Path) -> list[ProcessRecord]:
    state = json.loads((folder / "stack.json").read_text())
    return [ProcessRecord.from_json(item) for item in state["processes"].values()]


def test_up_writes_stack_env_with_every_setting(cli_stack: Path) -> None:
    lines = (cli_stack / "stack.env").read_text().splitlines()
    keys = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}

    assert {"PG_DSN", "MYSQL_URL", "KAFKA_BOOTSTRAP", "CONNECT_URL",
            "CONSUMER_METRICS_URL", "MARTS_METRICS_URL", "EXPORTER_METRICS_URL"} <= keys


@pytest.mark.parametrize(("variable", "metric"), [("CONSUMER_METRICS_URL", "cdc_replica_lag_seconds"),
                                                  ("MARTS_METRICS_URL", "cdc_mart_freshness_seconds"),
                                                  ("EXPORTER_METRICS_URL", "cdc_slot_retained_wal_bytes")])
def test_each_metrics_url_in_stack_env_serves_its_metrics(cli_stack: Path, variable: str, metric: str) -> None:
    body = urllib.request.urlopen(_stack_env(cli_stack)[variable], timeout=5).read().decode()

    assert metric in {family.name for family in text_string_to_metric_families(body)}


def test_status_shows_every_part_up(cli_stack: Path) -> None:
    result = run_cdc("local", "status", "--dir", str(cli_stack))

    assert result.returncode == 0, result.stdout
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["postgres", "mariadb", "broker", "connect", "exporter", "consumer", "marts", "connector"]


def _passwords(folder: Path) -> list[str]:
    passwords = list(json.loads((folder / "stack.json").read_text())["passwords"].values())
    assert len(passwords) == 2
    return passwords


def test_up_prints_none_of_the_stacks_passwords(cli_up: CliStack) -> None:
    assert [password for password in _passwords(cli_up.folder) if password in cli_up.up_output] == []


def test_status_prints_none_of_the_stacks_passwords(cli_stack: Path) -> None:
    result = run_cdc("local", "status", "--dir", str(cli_stack))

    assert [password for password in _passwords(cli_stack) if password in result.stdout + result.stderr] == []


def test_generated_changes_reach_the_replica_and_the_marts_exactly(cli_stack: Path) -> None:
    env = _stack_env(cli_stack)
    seed = run_cdc("generate", "seed", "--users", "60", "--categories", "8", "--products", "50", "--orders", "300",
                   env=env)
    assert seed.returncode == 0, seed.stderr
    live = run_cdc("generate", "live", "--rate", "40", "--duration", "8", "--seed", "9", env=env)
    assert live.returncode == 0, live.stderr

    verified = run_cdc("verify", "--wait", "120", env=env)

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert [line.split()[0] for line in verified.stdout.splitlines()[2:] if not line.startswith(" ")] == [
        "users", "product_categories", "products", "orders", "order_details", "user_activity", "sales_by_category",
    ]


def _pids(folder: Path) -> dict[str, int]:
    return {record.name: record.pid for record in _records(folder) if record.alive()}


def test_up_on_a_running_stack_starts_nothing(cli_stack: Path) -> None:
    before = _pids(cli_stack)

    result = run_cdc("local", "up", "--dir", str(cli_stack))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "already running: broker, connect, consumer, exporter, mariadb, marts, postgres" in result.stdout
    assert _pids(cli_stack) == before


def test_up_starts_only_the_missing_part(cli_stack: Path) -> None:
    before = _pids(cli_stack)
    kill_now(next(record for record in _records(cli_stack) if record.name == "marts"))

    result = run_cdc("local", "up", "--dir", str(cli_stack))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting the marts worker" in result.stdout and "starting PostgreSQL" not in result.stdout
    after = _pids(cli_stack)
    assert after.keys() == before.keys() and after["marts"] != before["marts"]
    assert {name: pid for name, pid in after.items() if name != "marts"} == {
        name: pid for name, pid in before.items() if name != "marts"}


def test_down_leaves_no_process_of_the_stack(cli_stack: Path) -> None:
    records = _records(cli_stack)

    result = run_cdc("local", "down", "--dir", str(cli_stack))

    assert result.returncode == 0, result.stderr
    assert [record.name for record in records if record.alive()] == []
    assert "stopped: exporter, marts, consumer, connect, broker, mariadb, postgres" in result.stdout
