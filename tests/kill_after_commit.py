"""Test-only entry point: `cdc consume` that SIGKILLs itself right after the MySQL commit of its Nth
batch, before that batch's offsets are committed to Kafka (the crash window at-least-once must cover).

    CDC_TEST_KILL_AFTER_BATCH=N        the batch whose MySQL commit is the last thing it does
    CDC_TEST_KILL_REPORT=path          where the killed batch's offsets go first: [[topic, partition, offset]]

Run as `python -m tests.kill_after_commit` from the repository root.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from consumer.app import Replicator
from consumer.batch import Batch
from consumer.settings import ConsumerSettings


class KillAfterBatch:
    """The Replicator's on_batch_committed hook: counts batches, SIGKILLs the process at the Nth."""

    def __init__(self, batch_number: int, report: Path) -> None:
        self.batch_number = batch_number
        self.report = report
        self.seen = 0

    def __call__(self, batch: Batch) -> None:
        self.seen += 1
        if self.seen == self.batch_number:
            offsets = [[topic, partition, offset] for (topic, partition), offset in sorted(batch.offsets.items())]
            self.report.write_text(json.dumps(offsets))
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hook = KillAfterBatch(int(os.environ["CDC_TEST_KILL_AFTER_BATCH"]), Path(os.environ["CDC_TEST_KILL_REPORT"]))
    Replicator(ConsumerSettings.from_env(), on_batch_committed=hook).run(threading.Event())


if __name__ == "__main__":
    main()
