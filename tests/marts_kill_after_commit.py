"""Test-only entry point: `cdc marts` that SIGKILLs itself right after the MySQL commit of its Nth
batch transaction, before Faust acknowledges the batch or commits anything to Kafka.

    CDC_TEST_KILL_AFTER_BATCH=N        the transaction whose commit is the last thing it does
    CDC_TEST_KILL_REPORT=path          where the killed batch's last offsets go first: [[topic, partition, offset]]

Run as `python -m tests.marts_kill_after_commit` from the repository root.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from cdc.settings import MySqlSettings
from marts.cli import run_worker
from marts.events import Event


class KillAfterBatch:
    def __init__(self, batch_number: int, report: Path) -> None:
        self.batch_number = batch_number
        self.report = report
        self.seen = 0

    def __call__(self, events: Sequence[Event]) -> None:
        self.seen += 1
        if self.seen == self.batch_number:
            last: dict[tuple[str, int], int] = {}
            for event in events:
                where = (event.position.topic, event.position.partition)
                last[where] = max(last.get(where, -1), event.position.offset)
            self.report.write_text(json.dumps([[t, p, o] for (t, p), o in sorted(last.items())]))
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hook = KillAfterBatch(int(os.environ["CDC_TEST_KILL_AFTER_BATCH"]), Path(os.environ["CDC_TEST_KILL_REPORT"]))
    run_worker(MySqlSettings.from_env(), on_batch_committed=hook)


if __name__ == "__main__":
    main()
