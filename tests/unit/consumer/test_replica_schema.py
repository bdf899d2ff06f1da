"""consumer.replica_schema: the pipeline's own tables in the replica's database, which no replica table replaces."""
from __future__ import annotations

import importlib
import pkgutil
import re
from typing import Any

import consumer
from consumer.replica_schema import BOOKKEEPING_TABLES, SCHEMAS, data_tables, is_own_table
from core.source.tables import TABLES
from core.watermark import WATERMARK_DDL

CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS `?(\w+)`?")


class StoredNames:
    """A cursor over a replica whose SCHEMAS table records `names`."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.rows = [(1,)] if "information_schema" in sql else [(name,) for name in self.names]

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def bookkeeping_ddl() -> list[str]:
    """Every CREATE TABLE statement a module of the consumer package holds in a *_DDL constant, and the watermark's."""
    statements = [WATERMARK_DDL]
    for module in pkgutil.iter_modules(consumer.__path__):
        loaded = importlib.import_module(f"consumer.{module.name}")
        statements += [value for name, value in vars(loaded).items() if name.endswith("_DDL") and isinstance(value, str)]
    return statements


def test_the_tables_the_consumer_keeps_for_itself_are_exactly_its_reserved_bookkeeping_tables() -> None:
    created = {match[1] for ddl in bookkeeping_ddl() if (match := CREATED.search(ddl))}
    assert created == set(BOOKKEEPING_TABLES)


def test_the_reserved_bookkeeping_names_are_lowercase_as_is_own_table_compares_them() -> None:
    assert [name for name in BOOKKEEPING_TABLES if name != name.lower()] == []


def test_the_shops_tables_are_not_the_pipelines_own() -> None:
    assert [table for table in TABLES if is_own_table(table)] == []


def test_a_rebuild_does_not_drop_a_table_paused_for_a_name_of_the_pipelines_own() -> None:
    dropped = data_tables(StoredNames(["coupons", "user_activity", "users"]))
    assert "user_activity" not in dropped
    assert {"coupons", "users", SCHEMAS} <= set(dropped)
