"""Stopping a worker cleanly on SIGINT/SIGTERM: the one signal handler of the commands that run until stopped."""
from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(stop: threading.Event, finishing: str, *, second_interrupts: bool = True) -> Iterator[None]:
    """While inside: the first SIGINT/SIGTERM sets `stop` (the work ends after `finishing`, e.g. "the
    current batch"); a second one interrupts at once (KeyboardInterrupt), unless `second_interrupts` is
    False: then it is only logged again. Outside the main thread, where Python cannot install handlers,
    it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and second_interrupts:
            raise KeyboardInterrupt
        log.info("%s: stopping after %s", signal.Signals(signum).name, finishing)
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
