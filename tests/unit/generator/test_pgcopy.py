"""COPY's text format: every value written so that PostgreSQL reads it back unchanged."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from generator.pgcopy import batched, encode_row, encode_value


def test_null_is_backslash_n() -> None:
    assert encode_value(None) == r"\N"


def test_text_escapes_backslash_tab_newline_and_carriage_return() -> None:
    assert encode_value("a\\b\tc\nd\re") == r"a\\b\tc\nd\re"
    assert encode_value(r"\N") == r"\\N"  # text that looks like NULL stays text


def test_timestamps_keep_their_utc_offset_and_dates_are_iso() -> None:
    assert encode_value(datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2024-02-03T04:05:06+00:00"
    assert encode_value(date(2024, 2, 3)) == "2024-02-03"


def test_numbers_are_written_with_their_exact_digits() -> None:
    assert encode_value(Decimal("12.30")) == "12.30"
    assert encode_value(1234567890123) == "1234567890123"


def test_a_row_is_tab_separated_and_ends_with_a_newline() -> None:
    assert encode_row((1, "Ann", None, Decimal("9.99"))) == "1\tAnn\t\\N\t9.99\n"


def test_batched_splits_into_lists_of_at_most_the_size() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
