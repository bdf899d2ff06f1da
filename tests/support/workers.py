"""A worker (`cdc consume` by default) as a real subprocess, its log in a file."""
from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.cli import start_module

# The consumer's log line when it gets partitions (at start and after each rebalance).
ASSIGNED = "consumer.app: assigned "
# The module of a worker that kills itself right after a batch's MySQL commit (tests/support/kill_after_commit.py).
KILL_AFTER_COMMIT = "tests.support.kill_after_commit"


@dataclass
class ConsumerProcess:
    """`python -m MODULE ARGS` (by default `cdc consume`) as a real subprocess, its log in a file."""

    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[str] | None = None
    args: tuple[str, ...] = ("consume",)
    module: str = "cdc"

    def start(self) -> ConsumerProcess:
        self.proc = start_module(self.module, *self.args, env=self.env, log=self.log)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def stop(self) -> int:
        """SIGTERM and the exit status (0 expected)."""
        return self.kill(signal.SIGTERM)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        """Until the log holds `text` `count` times; AssertionError with the log's tail otherwise."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{text!r} not {count} times in the consumer's log:\n{self.output()[-3000:]}")
            time.sleep(0.2)
