"""The invariants and their scopes."""
from __future__ import annotations

import re
from pathlib import Path

from cdc.consistency.invariants import FOREIGN_KEYS, INVARIANTS, MARTS_BALANCE, ORDER_TOTALS, REFERENCES, selected

MIGRATIONS = Path(__file__).resolve().parents[4] / "core" / "source" / "migrations"
# In a CREATE TABLE: "<column> bigint [NOT NULL] REFERENCES <parent> (<parent_key>)".
FOREIGN_KEY = re.compile(r"^\s*(\w+)\s+bigint\s+(?:NOT NULL\s+)?REFERENCES\s+(\w+)\s*\((\w+)\)", re.MULTILINE)
TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)


def migrated_foreign_keys() -> set[tuple[str, str, str, str]]:
    text = "\n".join(path.read_text() for path in sorted(MIGRATIONS.glob("*.sql")))
    return {(table, *key) for table, body in TABLE.findall(text) for key in FOREIGN_KEY.findall(body)}


def test_all_selects_every_invariant() -> None:
    assert selected("all") == (ORDER_TOTALS, MARTS_BALANCE, REFERENCES)


def test_replica_selects_the_invariants_over_the_replica_tables() -> None:
    assert selected("replica") == (ORDER_TOTALS, REFERENCES)


def test_marts_selects_the_marts_balance() -> None:
    assert selected("marts") == (MARTS_BALANCE,)


def test_invariant_names_are_unique() -> None:
    assert len({invariant.name for invariant in INVARIANTS}) == len(INVARIANTS)


def test_the_references_checked_are_exactly_the_foreign_keys_of_the_source() -> None:
    checked = {(key.table, key.column, key.parent, key.parent_key) for key in FOREIGN_KEYS}

    assert checked == migrated_foreign_keys() and len(checked) == 5


def test_the_references_query_checks_each_foreign_key_once() -> None:
    assert REFERENCES.sql.count(" UNION ALL ") == len(FOREIGN_KEYS) - 1
