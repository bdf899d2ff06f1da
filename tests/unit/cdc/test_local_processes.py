"""Waiting for a stack's part to start: its own process must be the one that answers."""
from __future__ import annotations

from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord, wait_until


def gone(tmp_path: Path) -> ProcessRecord:
    log = tmp_path / "connect.log"
    log.write_text("Address already in use\n")
    return ProcessRecord("connect", pid=2**22 + 1, start_ticks=0, log=str(log))  # above pid_max: never running


def test_a_part_that_exited_fails_its_start_even_when_something_answers_on_its_port(tmp_path: Path) -> None:
    with pytest.raises(LocalStackError, match=r"connect exited while starting \(another process answers on its port\)"):
        wait_until("kafka connect", lambda: True, timeout=5, record=gone(tmp_path))


def test_a_part_that_exited_fails_its_start_with_its_logs_tail(tmp_path: Path) -> None:
    with pytest.raises(LocalStackError, match="connect exited while starting; its log .*\nAddress already in use"):
        wait_until("kafka connect", lambda: False, timeout=5, record=gone(tmp_path))
