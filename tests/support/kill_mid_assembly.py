"""Test-only entry point: a worker that SIGKILLs itself while a source transaction is half assembled: once
its assembler (core.transactions) holds N messages consumed but neither released nor dropped, i.e. part
of a transaction read, none of it in MySQL yet.

    python -m tests.support.kill_mid_assembly consumer|marts      (from the repository root)

    CDC_TEST_KILL_HELD=N        the number of held messages that triggers the kill
    CDC_TEST_KILL_REPORT=path   where {"held": count} goes first
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import marts.app
from consumer.app import Replicator
from consumer.settings import ConsumerSettings
from core.transactions import Assembler
from marts.assembly import MartsAssembly, Work
from marts.cli import run_worker
from marts.settings import MartsSettings


class KillWhenHeld:
    def __init__(self, held: int, report: Path) -> None:
        self.held = held
        self.report = report

    def check(self, assembler: Assembler[Any]) -> None:
        held = assembler.held()
        if held >= self.held:
            self.report.write_text(json.dumps({"held": held}))
            os.kill(os.getpid(), signal.SIGKILL)


def killing_assembly(kill: KillWhenHeld) -> type[MartsAssembly]:
    class KillingAssembly(MartsAssembly):
        def take(self, messages: Sequence[Any]) -> Work | None:
            work = super().take(messages)
            kill.check(self.assembler)
            return work

    return KillingAssembly


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = sys.argv[1]
    kill = KillWhenHeld(int(os.environ["CDC_TEST_KILL_HELD"]), Path(os.environ["CDC_TEST_KILL_REPORT"]))
    if worker == "consumer":
        replicator = Replicator(ConsumerSettings.from_env())
        # Called before each consume()'s messages are taken: the assembler holds what earlier ones left.
        replicator.on_consumed = lambda count: kill.check(replicator.assembler)
        replicator.run(threading.Event())
    elif worker == "marts":
        marts.app.MartsAssembly = killing_assembly(kill)  # type: ignore[misc]
        run_worker(MartsSettings.from_env())
    else:
        sys.exit(f"usage: python -m tests.support.kill_mid_assembly consumer|marts (not {worker!r})")


if __name__ == "__main__":
    main()
