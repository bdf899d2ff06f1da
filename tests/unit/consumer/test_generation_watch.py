"""The periodic check of the source topics' ids, off the poll loop."""
from __future__ import annotations

import pytest

from consumer.errors import TopicsRecreated
from consumer.generation_watch import GenerationWatch
from core.errors import ConnectorError


def poll_until_checked(watch: GenerationWatch, calls: list[int]) -> None:
    """One poll starts the check (due at once), then wait for it without polling again."""
    watch.poll()
    assert watch.running is not None
    watch.running.exception(timeout=5)
    assert calls == [1]


def test_a_check_that_finds_a_recreated_topic_stops_the_next_poll() -> None:
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        raise TopicsRecreated("recreated")

    watch = GenerationWatch(check, every=0.0)
    try:
        poll_until_checked(watch, calls)
        with pytest.raises(TopicsRecreated, match="^recreated$"):
            watch.poll()
    finally:
        watch.close()


def test_a_check_that_cannot_reach_the_broker_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def check() -> None:
        calls.append(1)
        raise ConnectorError("broker down")

    watch = GenerationWatch(check, every=0.0)
    try:
        poll_until_checked(watch, calls)
        watch.poll()
    finally:
        watch.close()
    assert "cannot check the source topics' ids: broker down" in caplog.text


def test_no_check_runs_before_it_is_due() -> None:
    calls: list[int] = []
    watch = GenerationWatch(lambda: calls.append(1), every=60.0)
    try:
        watch.poll()
    finally:
        watch.close()
    assert (watch.running, calls) == (None, [])
