"""sample_for: one sample per interval for the duration, on a fake clock."""
from __future__ import annotations

import pytest

from cdc.consistency.report import Sample
from cdc.consistency.sampling import sample_for


class FakeClock:
    """Time moves only when slept or when a sample takes `cost` seconds."""

    def __init__(self, cost: float = 0.0) -> None:
        self.now = 100.0
        self.cost = cost

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds

    def take(self, at: float) -> Sample:
        self.now += self.cost
        return Sample(round(at, 6), ())


def sample_times(duration: float, interval: float, cost: float = 0.0) -> list[float]:
    clock = FakeClock(cost)
    return [sample.at for sample in sample_for(clock.take, duration, interval, clock, clock.sleep)]


def test_samples_are_taken_at_each_interval_within_the_duration() -> None:
    assert sample_times(1.0, 0.25) == [0.0, 0.25, 0.5, 0.75]


def test_a_duration_of_zero_still_takes_one_sample() -> None:
    assert sample_times(0.0, 0.2) == [0.0]


def test_a_slow_sample_skips_the_slots_it_overran() -> None:
    assert sample_times(1.0, 0.2, cost=0.3) == [0.0, 0.4, 0.8]


def test_a_sample_filling_its_slot_exactly_is_followed_by_the_next_slot() -> None:
    assert sample_times(0.6, 0.2, cost=0.2) == [0.0, 0.4]


def test_ctrl_c_ends_the_sampling_early_with_the_samples_taken() -> None:
    clock = FakeClock()

    def interrupted_at_the_third_sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 100.6:
            raise KeyboardInterrupt

    samples = sample_for(clock.take, 10.0, 0.2, clock, interrupted_at_the_third_sleep)

    assert [sample.at for sample in samples] == [0.0, 0.2, 0.4]


def test_ctrl_c_before_the_first_sample_is_an_interruption() -> None:
    def interrupted(at: float) -> Sample:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sample_for(interrupted, 10.0, 0.2)
