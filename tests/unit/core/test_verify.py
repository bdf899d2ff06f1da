"""compare(): counts and names the rows that are missing, extra or different."""
from __future__ import annotations

from core.verify import compare

COLUMNS = ("id", "name")


def test_a_missing_row_is_counted_and_named_by_its_key() -> None:
    report = compare("t", COLUMNS, 1, [(1, "a"), (2, "b")], [(1, "a")])

    assert (report.missing, report.extra, report.different, report.examples) == (1, 0, 0, ("missing id=2",))


def test_an_extra_row_is_counted_and_named_by_its_key() -> None:
    report = compare("t", COLUMNS, 1, [(1, "a")], [(1, "a"), (3, "c")])

    assert (report.missing, report.extra, report.different, report.examples) == (0, 1, 0, ("extra id=3",))


def test_a_different_row_names_its_key_and_the_columns_that_differ() -> None:
    report = compare("t", COLUMNS, 1, [(1, "a")], [(1, "z")])

    assert report.examples == ("different at id=1: name: source 'a' != replica 'z'",)


def test_equal_row_sets_match() -> None:
    assert compare("t", COLUMNS, 1, [(1, "a"), (2, "b")], [(2, "b"), (1, "a")]).matches
