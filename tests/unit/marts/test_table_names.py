"""The marts' MySQL tables are named as core.marts_tables tells the other stages (which must not take those names)."""
from __future__ import annotations

from core.marts_tables import is_marts_table
from marts.definitions import MARTS
from marts.schema import all_tables


def test_every_table_of_the_marts_has_a_name_core_reserves_for_them() -> None:
    assert [table for table in all_tables() if not is_marts_table(table)] == []


def test_the_marts_are_reserved_by_name_in_any_case() -> None:
    assert all(is_marts_table(spec.name.upper()) for spec in MARTS)
