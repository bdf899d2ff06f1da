"""Run the `cdc` command as a user would, in a subprocess."""
from __future__ import annotations

import os
import subprocess
import sys


def run_cdc(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`cdc ARGS` with `env` on top of this process's environment (the same interpreter as the tests)."""
    return subprocess.run(
        [sys.executable, "-m", "cdc", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
