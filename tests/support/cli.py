"""The one way tests run the `cdc` command: as a user would, in a subprocess of the tests' own interpreter.

`run_cdc` waits for a command to end; `start_cdc` starts a long-running one
(a worker, the live generator) and returns its process.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from core.settings import HEALTH_FILE_VARIABLES

# The subprocesses' working directory: `python -m cdc` and `python -m tests.…` import this checkout from there.
REPOSITORY = Path(__file__).resolve().parents[2]


def run_cdc(*args: str, env: Mapping[str, str] | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`cdc ARGS` with `env` on top of this process's environment; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "cdc", *args], cwd=REPOSITORY, env=_environment(env),
        capture_output=True, text=True, timeout=timeout,
    )


def start_cdc(*args: str, env: Mapping[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[str]:
    """`cdc ARGS` started in the background (see start_module)."""
    return start_module("cdc", *args, env=env, log=log)


def start_module(module: str, *args: str, env: Mapping[str, str] | None = None,
                 log: Path | None = None) -> subprocess.Popen[str]:
    """`python -m MODULE ARGS` started in the background, with `env` on top of this process's environment.

    Its stdout and stderr, together, are appended to `log`; without a log they
    are two pipes (read them with `communicate`).
    """
    if log is None:
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPOSITORY, env=_environment(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # A worker's health file beside its log unless `env` names one: the default, in /tmp, is shared by every
    # worker on the machine (the suite's other pytest process's too).
    health = {variable: str(log.with_name(f"{log.stem}-{worker}-health.json"))
              for worker, variable in HEALTH_FILE_VARIABLES.items()}
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPOSITORY,
                                env=_environment({**health, **(env or {})}), stdout=output, stderr=subprocess.STDOUT,
                                text=True)


def start_live_load(env: Mapping[str, str], *, seed: int, duration: float = 10,
                    rate: float = 40) -> subprocess.Popen[str]:
    """`cdc generate live`: `rate` shop transactions a second for `duration` seconds."""
    return start_cdc("generate", "live", "--rate", str(rate), "--duration", str(duration), "--seed", str(seed),
                     env=env)


def finish_live_load(generator: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the live generator ends; AssertionError with its log's tail unless it ends well."""
    _, err = generator.communicate(timeout=timeout)
    assert generator.returncode == 0, err[-2000:]


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(env or {})}
