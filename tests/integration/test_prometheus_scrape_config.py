"""Debian's Prometheus runs compose's scrape configuration (docker/prometheus/prometheus.yml) against the local
stack's three metrics endpoints, each job's target rewritten to the local endpoint, and reports every target up."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cdc.local.ports import reserve
from tests.support.cli import REPOSITORY
from tests.support.monitoring import URL_VARIABLES

pytestmark = pytest.mark.integration

SCRAPE_CONFIG = REPOSITORY / "docker" / "prometheus" / "prometheus.yml"


def local_config(urls: dict[str, str]) -> dict[str, Any]:
    """Compose's configuration, each job's targets replaced by the local endpoint of the same name."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    for job in config["scrape_configs"]:
        url = urlsplit(urls[job["job_name"]])
        job["static_configs"] = [{"targets": [url.netloc]}]
        job["metrics_path"] = url.path
    return config


def active_targets(base: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{base}/api/v1/targets?state=active", timeout=5) as response:
        return list(json.load(response)["data"]["activeTargets"])


@pytest.fixture
def prometheus(monitored_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Prometheus running the rewritten configuration on a port reserved for the test; its base URL once ready."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus package is not installed (scripts/install.sh installs it), so "
                    "compose's scrape configuration cannot be run")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_config({job: monitored_env[variable]
                                                   for job, variable in URL_VARIABLES.items()})))
    port = reserve(tmp_path)
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    (tmp_path / "prometheus.log").read_text()[-3000:])
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_compose_configuration_loads_in_prometheus_and_every_target_is_up(
    prometheus: str, monitored_env: dict[str, str]
) -> None:
    deadline = time.monotonic() + 60  # the first scrape of each job comes within one scrape interval (5 s)
    targets = active_targets(prometheus)
    while not (len(targets) == 3 and all(target["health"] == "up" for target in targets)):
        assert time.monotonic() < deadline, json.dumps(targets, indent=1)
        time.sleep(1.0)
        targets = active_targets(prometheus)

    assert sorted((target["labels"]["job"], target["scrapeUrl"], target["health"]) for target in targets) == sorted(
        (job, monitored_env[variable], "up") for job, variable in URL_VARIABLES.items())
