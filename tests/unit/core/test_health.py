"""core.health: the verdict on a heartbeat, the heartbeat file's writing and reading."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from core.health import HealthError, Heartbeat, HeartbeatWriter, Limits, Verdict, check, judge, read_heartbeat

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
LIMITS = Limits(max_stall=60, max_age=30)


def beat(*, written: float = 1, progress: float = 1, waiting: int = 0, last_batch: float | None = 5) -> Heartbeat:
    """A heartbeat written `written` s, progressed `progress` s, last batch `last_batch` s before NOW."""
    return Heartbeat("consumer", 42, NOW - written, NOW - progress,
                     None if last_batch is None else NOW - last_batch, waiting)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


# --- the verdict ------------------------------------------------------------------

def test_caught_up_and_idle_for_long_is_healthy() -> None:
    verdict = judge(beat(progress=1, waiting=0, last_batch=3600), NOW, LIMITS)

    assert verdict == Verdict(True, "caught up, nothing waiting (last batch at 2023-11-14 21:13:20 UTC)")


def test_input_waiting_without_progress_past_the_max_stall_is_unhealthy() -> None:
    verdict = judge(beat(progress=95, waiting=12, last_batch=95), NOW, LIMITS)

    assert verdict == Verdict(False, "no progress for 95 s with input waiting (12 messages; "
                                     "last batch at 2023-11-14 22:11:45 UTC)")


def test_a_stall_without_any_batch_since_start_says_so() -> None:
    verdict = judge(beat(progress=61, waiting=3, last_batch=None), NOW, LIMITS)

    assert verdict == Verdict(False, "no progress for 61 s with input waiting (3 messages; "
                                     "last batch at none since start)")


def test_input_waiting_while_batches_commit_is_healthy() -> None:
    verdict = judge(beat(progress=2, waiting=5000, last_batch=2), NOW, LIMITS)

    assert verdict == Verdict(True, "progressing: 5000 messages waiting, last progress 2 s ago "
                                    "(last batch at 2023-11-14 22:13:18 UTC)")


def test_input_waiting_within_the_max_stall_is_healthy() -> None:
    assert judge(beat(progress=59, waiting=7), NOW, LIMITS).healthy is True


def test_a_heartbeat_older_than_the_max_age_is_unhealthy_even_when_caught_up() -> None:
    verdict = judge(beat(written=31, progress=31, waiting=0), NOW, LIMITS)

    assert verdict == Verdict(False, "heartbeat is 31 s old (written at 2023-11-14 22:12:49 UTC): "
                                     "the consumer (pid 42) is hung or dead")


def test_a_missing_heartbeat_file_is_unhealthy(tmp_path: Path) -> None:
    verdict = check(tmp_path / "none.json", NOW, LIMITS)

    assert verdict == Verdict(False, f"no heartbeat file {tmp_path / 'none.json'} (worker not started?)")


# --- writing and reading ----------------------------------------------------------------

def test_the_written_heartbeat_reads_back_equal(tmp_path: Path) -> None:
    clock = Clock()
    writer = HeartbeatWriter(tmp_path / "sub" / "hb.json", "marts", clock=clock)
    clock.now += 3
    writer.batch_committed()

    written = writer.beat(waiting=8)

    assert written == Heartbeat("marts", os.getpid(), NOW + 3, NOW + 3, NOW + 3, 8)
    assert read_heartbeat(tmp_path / "sub" / "hb.json") == written


def test_nothing_waiting_counts_as_progress(tmp_path: Path) -> None:
    clock = Clock()
    writer = HeartbeatWriter(tmp_path / "hb.json", "consumer", clock=clock)
    clock.now += 100

    assert writer.beat(waiting=0).progress_at == NOW + 100


def test_input_waiting_keeps_the_last_progress_time(tmp_path: Path) -> None:
    clock = Clock()
    writer = HeartbeatWriter(tmp_path / "hb.json", "consumer", clock=clock)
    clock.now += 100

    assert writer.beat(waiting=4).progress_at == NOW


def test_a_beat_is_due_again_after_the_interval(tmp_path: Path) -> None:
    clock = Clock()
    writer = HeartbeatWriter(tmp_path / "hb.json", "consumer", interval=1.0, clock=clock)
    writer.beat(waiting=0)
    clock.now += 0.5
    assert writer.due() is False
    clock.now += 0.5
    assert writer.due() is True


def test_writing_leaves_no_temporary_file(tmp_path: Path) -> None:
    HeartbeatWriter(tmp_path / "hb.json", "consumer").beat(waiting=0)

    assert sorted(path.name for path in tmp_path.iterdir()) == ["hb.json"]


def test_an_unwritable_heartbeat_file_does_not_raise(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    HeartbeatWriter(blocker / "hb.json", "consumer").beat(waiting=0)  # its folder cannot exist

    assert not (blocker / "hb.json").exists() and blocker.is_file()


def test_a_file_that_is_not_a_heartbeat_is_a_health_error(tmp_path: Path) -> None:
    path = tmp_path / "hb.json"
    path.write_text(json.dumps({"worker": "consumer"}))

    with pytest.raises(HealthError, match="is not a heartbeat"):
        read_heartbeat(path)



# --- a standby ----------------------------------------------------------------------

def test_a_fresh_standby_heartbeat_is_healthy_and_says_it_is_a_standby() -> None:
    standby = Heartbeat("marts", 42, NOW - 1, NOW - 1, None, 0, standby=True)

    assert judge(standby, NOW, LIMITS) == Verdict(True, "standby: another marts worker is active; this one "
                                                        "(pid 42) waits to take over")


def test_a_standby_whose_heartbeat_is_old_is_unhealthy() -> None:
    standby = Heartbeat("marts", 42, NOW - 31, NOW - 31, None, 0, standby=True)

    assert judge(standby, NOW, LIMITS).healthy is False


def test_a_standby_beat_is_written_as_a_standby(tmp_path: Path) -> None:
    clock = Clock()
    HeartbeatWriter(tmp_path / "hb.json", "consumer", clock=clock).standby()

    assert read_heartbeat(tmp_path / "hb.json") == Heartbeat("consumer", os.getpid(), NOW, NOW, None, 0, standby=True)


def test_a_standby_that_takes_over_gets_the_whole_stall_from_its_last_standby_beat(tmp_path: Path) -> None:
    clock = Clock()
    writer = HeartbeatWriter(tmp_path / "hb.json", "consumer", clock=clock)
    clock.now = NOW + 3600  # an hour as a standby
    writer.standby()
    clock.now += 1

    assert writer.beat(waiting=500).progress_at == NOW + 3600


def test_a_heartbeat_file_of_before_standbys_reads_as_active(tmp_path: Path) -> None:
    (tmp_path / "hb.json").write_text(json.dumps({"worker": "consumer", "pid": 1, "written_at": NOW,
                                                  "progress_at": NOW, "last_batch_at": None, "waiting": 0}))

    assert read_heartbeat(tmp_path / "hb.json").standby is False


def test_a_paused_worker_with_a_fresh_heartbeat_is_unhealthy_and_says_why() -> None:
    verdict = judge(replace(beat(), paused="the marts stopped at a schema change"), NOW, LIMITS)

    assert verdict == Verdict(False, "paused: the marts stopped at a schema change")


def test_a_heartbeat_file_written_before_the_paused_field_existed_is_read_as_not_paused(tmp_path: Path) -> None:
    path = tmp_path / "hb.json"
    path.write_text(json.dumps({"worker": "marts", "pid": 1, "written_at": NOW, "progress_at": NOW,
                                "last_batch_at": None, "waiting": 0, "standby": False}))

    assert read_heartbeat(path).paused is None
