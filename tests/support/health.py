"""Running `cdc health WORKER` as the compose healthcheck does, and waiting for a verdict."""
from __future__ import annotations

import subprocess
import time

from tests.support.cli import run_cdc


def health(env: dict[str, str], worker: str, *options: str) -> subprocess.CompletedProcess[str]:
    return run_cdc("health", worker, *options, env=env, timeout=30)


def wait_for_health(env: dict[str, str], worker: str, exit_code: int, *options: str,
                    timeout: float = 30, verdict: str = "") -> subprocess.CompletedProcess[str]:
    """Until `cdc health WORKER OPTIONS` exits with `exit_code` (and says `verdict` first); its last run otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = health(env, worker, *options)
        if (result.returncode == exit_code and result.stdout.startswith(verdict)) or time.monotonic() >= deadline:
            return result
        time.sleep(1.0)
