"""The rate scheduler: transaction i is due at start + i / rate, whatever the transactions take."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from generator.pacing import Clock, Slot, slots


@dataclass
class FakeClock:
    """Time moves only when waited on or when a test says work took time; stop at a given time."""

    t: float = 100.0
    stop_at: float = math.inf

    def wait(self, seconds: float) -> bool:
        assert seconds >= 0
        self.t += seconds
        return self.t >= self.stop_at

    def clock(self) -> Clock:
        return Clock(now=lambda: self.t, wait=self.wait)


def run(rate: float, duration: float | None, fake: FakeClock, work: float = 0.0) -> list[Slot]:
    taken = []
    for slot in slots(rate, duration, fake.clock()):
        taken.append(slot)
        fake.t += work
    return taken


def test_slots_are_due_at_start_plus_index_over_rate() -> None:
    fake = FakeClock()
    taken = run(rate=4, duration=1, fake=fake)
    assert [slot.due for slot in taken] == [100.0, 100.25, 100.5, 100.75]
    assert [slot.lag for slot in taken] == [0.0] * 4


def test_a_run_on_schedule_lasts_exactly_its_duration() -> None:
    fake = FakeClock()
    run(rate=10, duration=2, fake=fake, work=0.01)
    assert fake.t == pytest.approx(102.0)


def test_the_time_a_transaction_takes_does_not_push_the_schedule_back() -> None:
    fake = FakeClock()
    taken = run(rate=10, duration=1, fake=fake, work=0.05)
    assert len(taken) == 10  # sleep-after-each would manage only 1 / (0.1 + 0.05) ~ 6.7
    assert [slot.due for slot in taken] == pytest.approx([100 + i / 10 for i in range(10)])


def test_a_slow_transaction_is_caught_up_with_by_starting_the_overdue_ones_at_once() -> None:
    fake = FakeClock()
    taken = []
    for slot in slots(10, 2, fake.clock()):
        taken.append(slot)
        fake.t += 0.55 if slot.index == 2 else 0.0
    assert len(taken) == 20
    assert [round(slot.lag, 2) for slot in taken[3:9]] == [0.45, 0.35, 0.25, 0.15, 0.05, 0.0]


def test_a_run_that_cannot_keep_up_stops_at_the_end_of_its_duration() -> None:
    fake = FakeClock()
    taken = run(rate=64, duration=1, fake=fake, work=1 / 32)  # each takes two slots' time
    assert len(taken) == 32
    assert taken[-1].lag == 31 / 64
    assert fake.t == 101.0


def test_without_duration_it_runs_until_stop_is_asked_for() -> None:
    fake = FakeClock(stop_at=103.05)
    taken = run(rate=2, duration=None, fake=fake)
    assert len(taken) == 7  # due at 100.0, 100.5, ..., 103.0
    assert fake.t == pytest.approx(103.5)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        list(slots(0, 1, FakeClock().clock()))
