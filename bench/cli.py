"""Running `cdc` subcommands as a user would (subprocesses), reading the generator's `--json` summaries."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import IO, Any

CDC = (sys.executable, "-m", "cdc")
TIMEOUT_SECONDS = 600.0


class CdcFailed(RuntimeError):
    """A `cdc` command exited with an error."""


def run_cdc(env: dict[str, str], *args: str, timeout: float = TIMEOUT_SECONDS) -> str:
    """`cdc ARGS` with `env` on top of this process's environment; its stdout."""
    result = subprocess.run([*CDC, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise CdcFailed(f"cdc {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result.stdout


def start_cdc(env: dict[str, str], *args: str, stdout: IO[Any] | int | None = None,
              stderr: IO[Any] | int | None = None) -> subprocess.Popen[bytes]:
    """`cdc ARGS` started in the background."""
    return subprocess.Popen([*CDC, *args], env={**os.environ, **env}, stdout=stdout, stderr=stderr)


@dataclass(frozen=True)
class SeedReport:
    rows: dict[str, int]  # table -> rows added
    total_rows: int

    @classmethod
    def from_json(cls, text: str) -> SeedReport:
        """From `cdc generate seed --json`."""
        report = json.loads(text)
        return cls(rows=report["rows"], total_rows=report["total_rows"])


def seed(env: dict[str, str], *, users: int, categories: int, products: int, orders: int, seed: int,
         append: bool = False) -> SeedReport:
    """`cdc generate seed` (COPY into PostgreSQL, one transaction)."""
    args = ["--users", str(users), "--categories", str(categories), "--products", str(products),
            "--orders", str(orders), "--seed", str(seed), *(["--append"] if append else [])]
    return SeedReport.from_json(run_cdc(env, "generate", "seed", *args, "--json"))


@dataclass(frozen=True)
class LiveReport:
    transactions_per_second: float  # achieved, as the generator reports it
    elapsed_seconds: float
    new_orders: int  # new orders committed

    @property
    def new_orders_per_second(self) -> float:
        return self.new_orders / self.elapsed_seconds

    @classmethod
    def from_json(cls, text: str | bytes) -> LiveReport:
        """From `cdc generate live --json`."""
        report = json.loads(text)
        return cls(transactions_per_second=report["achieved_rate"], elapsed_seconds=report["elapsed_seconds"],
                   new_orders=report["counts"]["new_order"])


class LiveRun:
    """`cdc generate live` in the background: the caller measures while it runs, then reads its report."""

    def __init__(self, env: dict[str, str], *, rate: float, workers: int, seconds: float, seed: int) -> None:
        self.args = ("generate", "live", "--rate", f"{rate:g}", "--workers", str(workers),
                     "--duration", f"{seconds:g}", "--seed", str(seed), "--json")
        self.errors = tempfile.TemporaryFile()  # a pipe could fill up unread while the caller measures
        self.process = start_cdc(env, *self.args, stdout=subprocess.PIPE, stderr=self.errors)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def report(self, timeout: float = TIMEOUT_SECONDS) -> LiveReport:
        """Waits for the end of the run."""
        try:
            out, _ = self.process.communicate(timeout=timeout)
            self.errors.seek(0)
            errors = self.errors.read().decode(errors="replace")
        finally:
            self.errors.close()
        if self.process.returncode != 0:
            raise CdcFailed(f"cdc {' '.join(self.args)} failed: {out.decode(errors='replace')}{errors}")
        return LiveReport.from_json(out)


def live(env: dict[str, str], *, rate: float, workers: int, seconds: float, seed: int) -> LiveReport:
    """`cdc generate live` for `seconds`; its report."""
    return LiveRun(env, rate=rate, workers=workers, seconds=seconds, seed=seed).report()
