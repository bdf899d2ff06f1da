"""Ctrl-C during `cdc local up` stops what was already started: nothing of the stack is left."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from cdc.local.processes import ProcessRecord
from tests.support.cli import run_cdc, start_cdc

pytestmark = pytest.mark.integration


def _records(folder: Path) -> list[ProcessRecord]:
    try:
        state = json.loads((folder / "stack.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or being replaced
        return []
    return [ProcessRecord.from_json(item) for item in state["processes"].values()]


def _wait_for_process(folder: Path, name: str, up: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while name not in [record.name for record in _records(folder)]:
        assert up.poll() is None, f"cdc local up ended early: {up.communicate()}"
        assert time.monotonic() < deadline, f"{name} was not started within {timeout} s"
        time.sleep(0.2)


def test_ctrl_c_during_up_stops_every_process_already_started() -> None:
    folder = Path(tempfile.mkdtemp(prefix="cdc-interrupted-", dir="/tmp"))
    folder.chmod(0o755)
    up = start_cdc("local", "up", "--dir", str(folder), "--infra-only")
    try:
        _wait_for_process(folder, "mariadb", up)  # the broker, Kafka Connect and PostgreSQL are running by then
        started = _records(folder)
        up.send_signal(signal.SIGINT)
        output = "".join(up.communicate(timeout=90))  # stdout and stderr

        assert up.returncode != 0, output
        assert "start-up failed; stopping what was started" in output
        assert [record.name for record in started] == ["broker", "connect", "postgres", "mariadb"]
        assert [record.name for record in started if record.alive()] == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        run_cdc("local", "down", "--dir", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
