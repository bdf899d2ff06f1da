"""Stopping a worker cleanly on SIGINT/SIGTERM: the one signal handler of the commands that run until stopped."""
from __future__ import annotations

import logging
import os
import signal
import sys
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


@contextmanager
def exit_within(seconds: float) -> Iterator[None]:
    """After the block (returned or raised), the process exits within `seconds` even if a thread it does not own
    is still running: Faust's consumer thread can finish a group join after the worker stopped, and it is no daemon,
    so the interpreter would wait for it for ever (a worker that lost its lock must exit, for its supervisor to
    restart it as a standby). Exit code 0 after a return, 1 after an exception."""
    code = 1
    try:
        yield
        code = 0
    finally:
        timer = threading.Timer(seconds, _exit_now, args=(code,))
        timer.daemon = True
        timer.start()


def _exit_now(code: int) -> None:
    log.error("a thread was still running %s after the worker stopped; exiting anyway",
              ", ".join(thread.name for thread in threading.enumerate()
                        if not thread.daemon and thread is not threading.main_thread()))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
