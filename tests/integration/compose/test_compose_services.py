"""docker-compose.yml's own services, run: every app service with exactly its command and environment.

No Docker engine exists here, so the compose file is read as compose reads it (tests/support/compose.py),
its infrastructure services are local servers set up as their images set them up, with compose's users and
passwords (tests/support/compose_servers.py), and each app service runs as its container would
(tests/support/compose_services.py), in the order its depends_on gives: the one-shots (migrate,
connector) to a successful exit, then the consumer, the marts worker and the generator (seed, then live
load). Once the generator is stopped, the replica and the marts must equal the source (`cdc verify`).

This proves the compose wiring: the users and passwords of .env and the init scripts, the variables, the
command lines, and the connector rendered from the connector service's environment.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from connectors.password_reference import PASSWORD_REFERENCE
from connectors.settings import ConnectorSettings
from core.kafka_connect import ConnectClient
from tests.support.compose import Project, load_project
from tests.support.compose_servers import compose_servers
from tests.support.compose_services import ServiceRunner

pytestmark = pytest.mark.integration

LIVE_ORDERS = 3  # new orders the live load must have written before it is stopped
VERIFY_WAIT_SECONDS = 90


@dataclass
class ComposeRun:
    project: Project
    runner: ServiceRunner
    one_shots: dict[str, subprocess.CompletedProcess[str]]
    generator_exit: int


@pytest.fixture(scope="module")
def compose_run() -> Iterator[ComposeRun]:
    """The compose project run up to a stopped generator; every process stopped at the end, pass or fail."""
    project = load_project()
    # Not pytest's tmp_path: PostgreSQL's service user (when running as root) must traverse the folder.
    folder = Path(tempfile.mkdtemp(prefix="cdc-compose-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        with compose_servers(project, folder) as servers:
            runner = ServiceRunner(project, servers.addresses, folder)
            try:
                one_shots = _run_app_services(project, runner)
                _wait_for_live_orders(project, runner)
                yield ComposeRun(project, runner, one_shots, runner.stop("generator"))
            finally:
                runner.stop_all()
    finally:
        if not os.environ.get("CDC_KEEP_TEST_STACK"):  # the session stack's switch: keep the logs to read
            shutil.rmtree(folder, ignore_errors=True)


def _run_app_services(project: Project, runner: ServiceRunner) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each app service in depends_on order: a one-shot to its exit (it must succeed), the others started."""
    one_shots = {}
    for service in project.app_services():
        if project.waited_for_completion(service):
            result = one_shots[service.name] = runner.run(service)
            if result.returncode != 0:
                pytest.fail(f"{service.name} ({' '.join(service.command or ())}) exited {result.returncode}:\n"
                            f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
        else:
            runner.start(service)
    return one_shots


def _wait_for_live_orders(project: Project, runner: ServiceRunner, timeout: float = 90) -> None:
    """Until the generator has seeded and its live load has written LIVE_ORDERS new orders."""
    generator = project.services["generator"]
    dsn = runner.environment(generator)["PG_DSN"]
    seeded = int(project.variables["SEED_ORDERS"])
    deadline = time.monotonic() + timeout
    while _last_order_id(dsn) < seeded + LIVE_ORDERS:
        for name, process in runner.started.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited {process.returncode}:\n{runner.log(name)[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no live orders after {timeout:.0f} s; generator:\n{runner.log('generator')[-3000:]}")
        time.sleep(0.5)


def _last_order_id(dsn: str) -> int:
    try:
        conn = psycopg2.connect(dsn, connect_timeout=5)
    except psycopg2.OperationalError:
        return 0
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(max(order_id), 0) FROM orders")
            return int(cur.fetchone()[0])
    except psycopg2.Error:
        return 0  # not migrated yet
    finally:
        conn.close()


def test_one_shot_services_exit_successfully(compose_run: ComposeRun) -> None:
    assert {name: result.returncode for name, result in compose_run.one_shots.items()} == {"migrate": 0,
                                                                                          "connector": 0}


def test_generator_seeds_then_stops_cleanly_on_sigterm(compose_run: ComposeRun) -> None:
    log = compose_run.runner.log("generator")

    assert compose_run.generator_exit == 0, log[-3000:]


def test_replica_and_marts_equal_the_source(compose_run: ComposeRun) -> None:
    consumer = compose_run.project.services["consumer"]

    # As `docker compose run --rm consumer cdc verify …`: the app environment, the app users.
    result = compose_run.runner.run(consumer, ["cdc", "verify", "--wait", str(VERIFY_WAIT_SECONDS)],
                                    timeout=VERIFY_WAIT_SECONDS + 60)

    workers = "\n".join(f"--- {name}:\n{compose_run.runner.log(name)[-1500:]}" for name in ("consumer", "marts"))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}\n{workers}"


@pytest.mark.parametrize("worker", ["consumer", "marts"])
def test_worker_healthcheck_passes(compose_run: ComposeRun, worker: str) -> None:
    service = compose_run.project.services[worker]
    assert service.healthcheck is not None

    result = compose_run.runner.run(service, service.healthcheck, timeout=30)

    assert (result.returncode, result.stdout.split(":")[0]) == (0, "healthy"), result.stdout + result.stderr


def test_connector_runs_as_the_replication_user_with_the_password_reference(compose_run: ComposeRun) -> None:
    environment = compose_run.runner.environment(compose_run.project.services["connector"])
    settings = ConnectorSettings.from_env(environment)

    config = ConnectClient(settings.connect_url).config(settings.name) or {}

    assert (config.get("database.user"), config.get("database.password")) == ("debezium", PASSWORD_REFERENCE)
