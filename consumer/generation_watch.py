"""Re-check the source topics' ids every few seconds without stalling the poll loop.

The check asks the broker and MySQL, which can each take seconds when
unreachable; it runs in a thread of its own, and the poll loop only picks up
its outcome.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from consumer.errors import TopicsRecreated
from core.errors import CdcError

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0


class GenerationWatch:
    def __init__(self, check: Callable[[], None], every: float = CHECK_SECONDS) -> None:
        self.check = check
        self.every = every
        self.next_check = time.monotonic() + every
        self.running: Future[None] | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generation-check")

    def poll(self) -> None:
        """Start a check when one is due; raise TopicsRecreated if the last one found a recreated topic."""
        if self.running is not None and self.running.done():
            running, self.running = self.running, None
            _outcome(running)
        if self.running is None and time.monotonic() >= self.next_check:
            self.next_check = time.monotonic() + self.every
            self.running = self.executor.submit(self.check)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _outcome(done: Future[None]) -> None:
    try:
        done.result()
    except TopicsRecreated:
        raise
    except CdcError as exc:  # unreachable for now: the next check tries again
        log.warning("cannot check the source topics' ids: %s", exc)
