"""Where MySQL and MariaDB differ, the SQL takes its form from core.mysql_dialect only."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from core.mysql_dialect import SESSION, SQL_MODE, inserted

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("bench", "cdc", "connectors", "consumer", "core", "generator", "marts")
DIALECT = ROOT / "core" / "mysql_dialect.py"
INSERTED_VALUE = re.compile(r"\bVALUES\((?!%)", re.IGNORECASE)  # VALUES(col), not a VALUES(%s, ...) row
SQL_MODE_SETTING = re.compile(r"\bsql_mode\s*=", re.IGNORECASE)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            found.add(id(body[0].value))
    return found


def sql_strings_matching(pattern: re.Pattern[str]) -> list[str]:
    """`file:line` of every string literal (not a docstring) outside core/mysql_dialect.py matching `pattern`."""
    hits = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == DIALECT:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            docstrings = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                        and pattern.search(node.value):
                    hits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return hits


def test_no_statement_spells_the_inserted_value_itself() -> None:
    assert sql_strings_matching(INSERTED_VALUE) == []


def test_no_statement_sets_a_sql_mode_of_its_own() -> None:
    assert sql_strings_matching(SQL_MODE_SETTING) == []


def test_the_inserted_value_is_the_values_function_both_servers_accept() -> None:
    assert inserted("`total`") == "VALUES(`total`)"


def test_sessions_are_strict_as_mysql_8_with_strict_mode_for_every_table() -> None:
    assert SESSION == ("SET SESSION sql_mode = 'ONLY_FULL_GROUP_BY,STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
                       "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'")
    assert "STRICT_TRANS_TABLES" not in SQL_MODE
