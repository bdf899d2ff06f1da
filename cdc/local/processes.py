"""Start, identify and stop the stack's long-running processes.

A process is recorded with its pid *and* its start time (from /proc), so a
later `cdc local down` never signals an unrelated process that reused a pid.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from cdc.errors import LocalStackError

_PR_SET_PDEATHSIG = 1


def running(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie."""
    return _start_ticks(pid) is not None


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone or a zombie."""
    fields = stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command's name (state, parent pid, …), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class ProcessRecord:
    """A started process, as written to DIR/stack.json."""

    name: str
    pid: int
    start_ticks: int
    log: str
    stop_signal: int = int(signal.SIGTERM)

    def alive(self) -> bool:
        return _start_ticks(self.pid) == self.start_ticks

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ProcessRecord:
        return cls(**data)  # type: ignore[arg-type]


def spawn(
    name: str,
    argv: Sequence[str],
    log: Path,
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
    die_with_parent: bool = False,
) -> ProcessRecord:
    """Start a process in its own session, its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                user=user,
                start_new_session=True,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
        except OSError as exc:
            raise LocalStackError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    ticks = _start_ticks(proc.pid)
    if ticks is None:
        raise LocalStackError(f"{name} exited at once; its log {log}:\n{tail(log)}")
    return ProcessRecord(name, proc.pid, ticks, str(log), int(stop_signal))


def wait_until(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    record: ProcessRecord | None = None,
    interval: float = 0.3,
) -> None:
    """Poll `check` until it is true; fail early, with the log's tail, if the process died (even if `check` is
    true: then another process answers in its place, on its port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = check()
        if record is not None and not record.alive():
            impostor = " (another process answers on its port)" if ready else ""
            raise LocalStackError(f"{record.name} exited while starting{impostor}; "
                                  f"its log {record.log}:\n{tail(Path(record.log))}")
        if ready:
            return
        time.sleep(interval)
    detail = f"; its log {record.log}:\n{tail(Path(record.log))}" if record else ""
    raise LocalStackError(f"{what} not ready after {timeout:.0f}s{detail}")


def stop(record: ProcessRecord, timeout: float = 20.0) -> None:
    """Signal the process's whole group, wait, and SIGKILL whatever is left."""
    if not record.alive():
        return
    _signal_group(record, record.stop_signal)
    _wait_gone(record, timeout)
    kill_now(record)


def kill_now(record: ProcessRecord) -> None:
    """SIGKILL the process's group at once (also a crash, for fault tests) and wait until it is gone."""
    if not record.alive():
        return
    _signal_group(record, signal.SIGKILL)
    _wait_gone(record, 10.0)
    if record.alive():
        raise LocalStackError(f"{record.name} (pid {record.pid}) survived SIGKILL")


def _wait_gone(record: ProcessRecord, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not record.alive():
            return
        time.sleep(0.1)


def _signal_group(record: ProcessRecord, sig: int) -> None:
    try:
        os.killpg(record.pid, sig)  # the process leads its own session and group
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(record.pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (the test fixture's case)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
