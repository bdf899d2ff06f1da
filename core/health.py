"""A worker's progress heartbeat: the file it writes, the reading of it, and the verdict `cdc health` gives.

A worker (the consumer, the marts) writes a small JSON file about once a
second: when it last made progress and how many messages wait for it.
Progress is a batch committed to MySQL, or being caught up (nothing waits).
A hot standby (core.leader) writes beats saying so: healthy while they are
fresh, since nothing waits for it.
So a worker that is idle because there is no input stays healthy, and one
that holds or could read messages but commits nothing (MySQL down, a stuck
write) turns unhealthy after the allowed stall. A file that is no longer
rewritten means the worker's loop is hung or the worker is gone. A worker
that stopped applying on purpose until an operator acts (the marts paused by
a source schema change: marts.pause) says why in its beats, and is unhealthy
while its beats are fresh.

The file is replaced atomically (write a temporary file, rename it), so a
reader never sees half of it; a failure to write it is logged and never
stops the worker.
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import CdcError

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 1.0  # how often a worker rewrites its file
DEFAULT_MAX_STALL = 60.0  # seconds without progress, with input waiting, that `cdc health` allows
DEFAULT_MAX_AGE = 30.0  # seconds a heartbeat may be old before the worker counts as hung or dead

Clock = Callable[[], float]


class HealthError(CdcError):
    """A heartbeat file is missing or cannot be read."""


@dataclass(frozen=True)
class Heartbeat:
    """One heartbeat; times are seconds since the epoch."""

    worker: str
    pid: int
    written_at: float
    progress_at: float  # the last batch committed, or the last time nothing was waiting
    last_batch_at: float | None  # None: no batch committed since the worker started
    waiting: int  # messages read or readable that are not applied yet
    standby: bool = False  # waiting for the stage's lock while another instance is active (core.leader)
    paused: str | None = None  # why the worker applies nothing until an operator acts


@dataclass(frozen=True)
class Limits:
    max_stall: float = DEFAULT_MAX_STALL
    max_age: float = DEFAULT_MAX_AGE


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


# --- writing ------------------------------------------------------------------

class HeartbeatWriter:
    """Keeps a worker's progress and writes it to `path`; use it from one thread."""

    def __init__(self, path: Path, worker: str, interval: float = HEARTBEAT_SECONDS,
                 clock: Clock = time.time) -> None:
        self.path = path
        self.worker = worker
        self.interval = interval
        self.clock = clock
        # A worker just started gets the whole allowed stall before its first batch must commit.
        self.progress_at = clock()
        self.last_batch_at: float | None = None
        self.written_at: float | None = None
        self.paused: str | None = None  # set by the worker: written in every beat from then on
        self._failing = False

    def due(self) -> bool:
        return self.written_at is None or self.clock() - self.written_at >= self.interval

    def batch_committed(self) -> None:
        self.last_batch_at = self.progress_at = self.clock()

    def beat(self, waiting: int) -> Heartbeat:
        """Record the messages waiting now (none waiting counts as progress) and write the file."""
        now = self.clock()
        if waiting <= 0:
            self.progress_at = now
        beat = Heartbeat(self.worker, os.getpid(), now, self.progress_at, self.last_batch_at, max(waiting, 0),
                         paused=self.paused)
        self.written_at = now
        self._write(beat)
        return beat

    def standby(self) -> None:
        """A standby's beat (when one is due): alive, nothing waits for it, so its progress is now."""
        if not self.due():
            return
        now = self.clock()
        self.progress_at = now  # the whole allowed stall from the moment it takes over
        self.written_at = now
        self._write(Heartbeat(self.worker, os.getpid(), now, now, self.last_batch_at, 0, standby=True))

    def _write(self, beat: Heartbeat) -> None:
        try:
            write_atomically(self.path, json.dumps(asdict(beat)))
        except OSError as exc:
            if not self._failing:
                log.warning("cannot write the heartbeat file %s (%s); `cdc health` will report this worker "
                            "unhealthy", self.path, exc)
            self._failing = True
            return
        if self._failing:
            log.info("heartbeat file %s written again", self.path)
            self._failing = False


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named per process: two workers pointed at one file must not rename each other's half-written file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


# --- reading and judging ------------------------------------------------------------

def read_heartbeat(path: Path) -> Heartbeat:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise HealthError(f"no heartbeat file {path} (worker not started?)") from None
    except OSError as exc:
        raise HealthError(f"cannot read the heartbeat file {path}: {exc}") from None
    try:
        return Heartbeat(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise HealthError(f"the heartbeat file {path} is not a heartbeat ({exc})") from None


def judge(beat: Heartbeat, now: float, limits: Limits) -> Verdict:
    """Healthy unless the heartbeat is too old, the worker is paused, or input waits and nothing progressed for too
    long."""
    age = max(now - beat.written_at, 0.0)
    if age > limits.max_age:
        return Verdict(False, f"heartbeat is {age:.0f} s old (written at {clock_time(beat.written_at)}): "
                              f"the {beat.worker} (pid {beat.pid}) is hung or dead")
    if beat.standby:
        return Verdict(True, f"standby: another {beat.worker} worker is active; this one (pid {beat.pid}) "
                             f"waits to take over")
    if beat.paused is not None:
        return Verdict(False, f"paused: {beat.paused}")
    stall = max(now - beat.progress_at, 0.0)
    last_batch = clock_time(beat.last_batch_at) if beat.last_batch_at is not None else "none since start"
    if beat.waiting and stall > limits.max_stall:
        return Verdict(False, f"no progress for {stall:.0f} s with input waiting ({beat.waiting} messages; "
                              f"last batch at {last_batch})")
    if beat.waiting:
        return Verdict(True, f"progressing: {beat.waiting} messages waiting, last progress {stall:.0f} s ago "
                             f"(last batch at {last_batch})")
    return Verdict(True, f"caught up, nothing waiting (last batch at {last_batch})")


def check(path: Path, now: float, limits: Limits) -> Verdict:
    """The verdict on the heartbeat at `path`; a missing or unreadable file is unhealthy."""
    try:
        beat = read_heartbeat(path)
    except HealthError as exc:
        return Verdict(False, str(exc))
    return judge(beat, now, limits)


def clock_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
