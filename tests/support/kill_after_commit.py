"""Test-only entry point: a worker that SIGKILLs itself right after the MySQL commit of its Nth batch,
before that batch's offsets are committed to Kafka (the crash window at-least-once must cover).

    python -m tests.support.kill_after_commit consumer|marts      (from the repository root)

    CDC_TEST_KILL_AFTER_BATCH=N        the batch (of those applying messages) whose MySQL commit is the last thing it does
    CDC_TEST_KILL_REPORT=path          where the killed batch's last offsets go first: [[topic, partition, offset]]
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from consumer.app import Replicator
from consumer.batch import Batch
from consumer.settings import ConsumerSettings
from marts.cli import run_worker
from marts.events import Event
from marts.settings import MartsSettings

Offsets = Mapping[tuple[str, int], int]


class KillAfterBatch:
    """A worker's on_batch_committed hook: counts the batches that applied messages, SIGKILLs the process at the
    Nth."""

    def __init__(self, batch_number: int, report: Path, last_offsets: Callable[[Any], Offsets]) -> None:
        self.batch_number = batch_number
        self.report = report
        self.last_offsets = last_offsets
        self.seen = 0

    def __call__(self, batch: Any) -> None:
        offsets = sorted(self.last_offsets(batch).items())
        if not offsets:  # a marts batch of transaction-topic messages only (their ENDs read ahead): no data applied
            return
        self.seen += 1
        if self.seen == self.batch_number:
            self.report.write_text(json.dumps([[topic, partition, offset] for (topic, partition), offset in offsets]))
            os.kill(os.getpid(), signal.SIGKILL)


def consumer_offsets(batch: Batch) -> Offsets:
    return batch.offsets


def marts_offsets(events: Sequence[Event]) -> Offsets:
    last: dict[tuple[str, int], int] = {}
    for event in events:
        where = (event.position.topic, event.position.partition)
        last[where] = max(last.get(where, -1), event.position.offset)
    return last


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = sys.argv[1]
    number, report = int(os.environ["CDC_TEST_KILL_AFTER_BATCH"]), Path(os.environ["CDC_TEST_KILL_REPORT"])
    if worker == "consumer":
        hook = KillAfterBatch(number, report, consumer_offsets)
        Replicator(ConsumerSettings.from_env(), on_batch_committed=hook).run(threading.Event())
    elif worker == "marts":
        run_worker(MartsSettings.from_env(), on_batch_committed=KillAfterBatch(number, report, marts_offsets))
    else:
        sys.exit(f"usage: python -m tests.support.kill_after_commit consumer|marts (not {worker!r})")


if __name__ == "__main__":
    main()
