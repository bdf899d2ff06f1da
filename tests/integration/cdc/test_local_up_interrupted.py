"""Ctrl-C during `cdc local up` stops what was already started: nothing of the stack is left."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def _processes_using(folder: Path) -> list[str]:
    """The command lines of running processes that name the folder (its servers' data and log paths do)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        if str(folder) in command:
            found.append(command)
    return found


@contextmanager
def _children_interruptible() -> Iterator[None]:
    """Commands started inside take SIGINT as from a terminal. A suite started in the background by a
    non-interactive shell (`nohup pytest &`) runs with SIGINT ignored, an ignored signal stays ignored across exec,
    and Python then installs no KeyboardInterrupt for it: `cdc local up` would never see this test's Ctrl-C. A
    handler (not ignoring) is reset to the default action in the child."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_during_up_stops_every_process_already_started() -> None:
    folder = Path(tempfile.mkdtemp(prefix="cdc-interrupted-", dir="/tmp"))
    folder.chmod(0o755)
    with _children_interruptible():
        up = start_cdc("local", "up", "--dir", str(folder), "--infra-only")
    try:
        # Interrupted once Kafka Connect is started: PostgreSQL's and MariaDB's data folders take seconds to make
        # after it, so `up` is still starting.
        _wait_for_process(folder, "connect", up)
        started = _records(folder)
        up.send_signal(signal.SIGINT)
        output = "".join(up.communicate(timeout=90))  # stdout and stderr

        assert up.returncode != 0, output
        assert "start-up failed; stopping what was started" in output
        assert [record.name for record in started][:2] == ["broker", "connect"]
        assert [record.name for record in started if record.alive()] == []
        assert _processes_using(folder) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        run_cdc("local", "down", "--dir", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
