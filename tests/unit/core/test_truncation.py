"""The ordering rule of a truncate against its table's row changes, by source lsn."""
from __future__ import annotations

from core.truncation import lsn_of, raised, survives, wiped_by


def test_change_without_a_truncate_of_its_table_survives() -> None:
    assert survives(5, None) is True


def test_change_written_before_the_applied_truncate_is_ignored() -> None:
    assert survives(199, 200) is False


def test_change_written_after_the_applied_truncate_survives() -> None:
    assert survives(201, 200) is True


def test_truncate_wipes_a_row_last_changed_before_it() -> None:
    assert wiped_by(150, 200) is True


def test_truncate_keeps_a_row_last_changed_after_it() -> None:
    assert wiped_by(250, 200) is False


def test_truncate_wipes_a_row_stored_without_a_position() -> None:
    assert wiped_by(None, 200) is True


def test_first_truncate_sets_the_watermark() -> None:
    assert raised(None, 200) == 200


def test_earlier_truncate_consumed_later_keeps_the_higher_watermark() -> None:
    assert raised(300, 200) == 300


def test_a_row_of_an_incremental_snapshot_is_placed_at_the_last_position_of_its_sequence() -> None:
    assert lsn_of(None, '["30004000","30004320"]') == 30004320


def test_a_row_without_a_position_is_refused() -> None:
    assert lsn_of(None) is None
    assert lsn_of(None, '["x"]') is None
