"""The pipeline's three metrics endpoints on the session's stack: a consumer and a marts worker of the test's own
(replica database, groups), each serving its metrics on a free port of 127.0.0.1, and the stack's own `cdc exporter`
(its URL in stack.env)."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from cdc.local.ports import reserve
from tests.support.replica import private_replica
from tests.support.workers import ConsumerProcess

# Per endpoint: the variable holding its URL (as in a local stack's stack.env) and the one setting its port.
URL_VARIABLES = {"consumer": "CONSUMER_METRICS_URL", "marts": "MARTS_METRICS_URL", "exporter": "EXPORTER_METRICS_URL"}
PORT_VARIABLES = {"consumer": "METRICS_PORT", "marts": "MARTS_METRICS_PORT", "exporter": "EXPORTER_METRICS_PORT"}
COMMANDS = {"consumer": ("consume",), "marts": ("marts",), "exporter": ("exporter",)}


def metrics_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def wait_until_answering(url: str, process: ConsumerProcess, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (OSError, urllib.error.URLError):
            if time.monotonic() >= deadline:
                raise AssertionError(f"{url} does not answer; the process's log:\n{process.output()[-3000:]}") from None
            time.sleep(0.5)


@contextmanager
def metrics_process(endpoint: str, env: dict[str, str], folder: Path) -> Iterator[tuple[str, ConsumerProcess]]:
    """`cdc consume|marts|exporter` with its metrics on a port reserved for `folder`; its URL once it answers."""
    port = reserve(folder)
    process = ConsumerProcess({**env, PORT_VARIABLES[endpoint]: str(port)}, folder / f"{endpoint}.log",
                              args=COMMANDS[endpoint]).start()
    try:
        wait_until_answering(metrics_url(port), process)
        yield metrics_url(port), process
    finally:
        process.ensure_stopped()


@contextmanager
def monitored_pipeline(stack_env: dict[str, str], folder: Path) -> Iterator[dict[str, str]]:
    """Env with the three URLs (CONSUMER_METRICS_URL, MARTS_METRICS_URL, EXPORTER_METRICS_URL) of running processes:
    the stack's exporter (it watches the stack's connector and slot) and workers started here."""
    uid = uuid.uuid4().hex[:10]
    with ExitStack() as stack:
        env = stack.enter_context(private_replica(stack_env))
        env = {**env, "MARTS_APP_ID": f"test-marts-top-{uid}", "MARTS_DATA_DIR": str(folder / "marts-data"),
               "MARTS_SESSION_TIMEOUT": "4", "CONSUMER_HEALTH_FILE": str(folder / "consumer-health.json"),
               "MARTS_HEALTH_FILE": str(folder / "marts-health.json"), "EXPORTER_INTERVAL_SECONDS": "1"}
        assert env["EXPORTER_METRICS_URL"], "the local stack runs `cdc exporter` and writes its URL to stack.env"
        for endpoint in ("consumer", "marts"):
            url, _ = stack.enter_context(metrics_process(endpoint, env, folder))
            env[URL_VARIABLES[endpoint]] = url
        yield env


@pytest.fixture(scope="module")
def monitored_env(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The session stack's env with the three metrics URLs of running processes (see monitored_pipeline)."""
    with monitored_pipeline(stack_env, tmp_path_factory.mktemp("monitored")) as env:
        yield env
