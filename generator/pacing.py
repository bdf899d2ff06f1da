"""A steady schedule: transaction i is due at start + i / rate.

Not sleep-after-each: the time a transaction takes does not push the next
one back, and a run that falls behind catches up by starting the overdue
ones at once. How far behind it got is reported with each slot.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


def per_second(count: float, seconds: float) -> float:
    """count / seconds, or 0.0 when no time has passed."""
    return count / seconds if seconds > 0 else 0.0


@dataclass(frozen=True)
class Clock:
    """now() in seconds, and wait(seconds) -> True if asked to stop meanwhile (waits 0: just asks)."""

    now: Callable[[], float]
    wait: Callable[[float], bool]

    @classmethod
    def real(cls, stop: threading.Event) -> Clock:
        return cls(now=time.monotonic, wait=stop.wait)


@dataclass(frozen=True)
class Slot:
    index: int
    due: float
    lag: float  # seconds late when it started (0 when on time)


def slots(rate: float, duration: float | None, clock: Clock) -> Iterator[Slot]:
    """Yield each slot when it is due, until duration has passed or stop is asked for.

    With a duration, the last wait runs to the end of the duration, so that
    a run on schedule lasts `duration` seconds.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    start = clock.now()
    end = start + duration if duration is not None else math.inf
    index = 0
    while True:
        due = start + index / rate
        if due >= end:
            clock.wait(max(0.0, end - clock.now()))
            return
        if clock.wait(max(0.0, due - clock.now())):
            return
        now = clock.now()
        if now >= end:
            return
        yield Slot(index, due, max(0.0, now - due))
        index += 1
