"""Where the marts resume reading a partition: after MySQL's stored position, never past a retention gap."""
from __future__ import annotations

import pytest

from marts.errors import RetentionGapError
from marts.transport import start_offset


def test_reading_resumes_after_the_last_applied_offset() -> None:
    assert start_offset("t[0]", applied=41, log_start=0) == 42


def test_a_partition_never_applied_is_read_from_its_start() -> None:
    assert start_offset("t[0]", applied=None, log_start=0) == 0


def test_the_next_offset_at_the_log_start_is_no_gap() -> None:
    assert start_offset("t[0]", applied=9, log_start=10) == 10


def test_events_deleted_before_they_were_applied_stop_the_worker() -> None:
    with pytest.raises(RetentionGapError, match=r"t\[0\]: the marts applied up to offset 9, but the partition now starts at 11"):
        start_offset("t[0]", applied=9, log_start=11)


def test_a_partition_never_applied_whose_start_was_deleted_is_a_gap() -> None:
    with pytest.raises(RetentionGapError, match="applied up to offset nothing"):
        start_offset("t[0]", applied=None, log_start=5)
