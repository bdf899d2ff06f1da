"""The table catalog states the source schema exactly as the migrations create it."""
from __future__ import annotations

import json
import re
from pathlib import Path

from connectors.settings import ConnectorSettings
from connectors.template import render, template_text
from core.source.tables import SOURCE_TABLES, TABLES, SourceColumn, SourceTable

MIGRATIONS = Path(__file__).resolve().parents[3] / "core" / "source" / "migrations"
CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.DOTALL)
CONSTRAINT_LINE = re.compile(r"^(CHECK|PRIMARY KEY|UNIQUE|FOREIGN KEY|CONSTRAINT)\b")


def migrated_tables() -> dict[str, SourceTable]:
    """The tables the migration files create, as read from their CREATE TABLE statements."""
    text = "\n".join(path.read_text() for path in sorted(MIGRATIONS.glob("*.sql")))
    tables = {}
    for name, body in CREATE_TABLE.findall(text):
        columns = []
        for line in (line.strip().rstrip(",") for line in body.splitlines()):
            if not line or CONSTRAINT_LINE.match(line):
                continue
            column, pg_type, *rest = line.split()
            constraints = " ".join(rest)
            primary_key = "PRIMARY KEY" in constraints
            columns.append(SourceColumn(column, pg_type, nullable=not primary_key and "NOT NULL" not in constraints,
                                        primary_key=primary_key))
        tables[name] = SourceTable(name, tuple(columns))
    return tables


def test_the_catalog_matches_the_migrations_column_by_column() -> None:
    migrated = migrated_tables()

    assert {name: migrated[name] for name in SOURCE_TABLES} == dict(TABLES)


def test_the_only_other_migrated_tables_are_debeziums_heartbeat_the_schema_changes_and_the_signals() -> None:
    assert set(migrated_tables()) - set(SOURCE_TABLES) == {"cdc_heartbeat", "cdc_schema_changes", "cdc_signals"}


def test_tables_come_parents_first() -> None:
    assert SOURCE_TABLES == ("users", "product_categories", "products", "orders", "order_details")


def test_every_table_has_a_one_column_primary_key_first() -> None:
    for table in TABLES.values():
        assert table.key == (table.columns[0].name,)


def test_the_connectors_snapshot_reads_the_catalogs_tables_the_heartbeat_the_schema_changes_and_the_signals() -> None:
    _, config = render(ConnectorSettings.from_env({"PG_DSN": "postgresql://postgres@127.0.0.1:5432/shop",
                                                   "CONNECT_URL": "http://127.0.0.1:8083"}))
    included = config["snapshot.include.collection.list"].split(",")

    assert included == [f"public.{name}"
                        for name in (*SOURCE_TABLES, "cdc_heartbeat", "cdc_schema_changes", "cdc_signals")]


def test_the_connector_streams_every_table_of_schema_public_so_that_the_publication_decides() -> None:
    config = json.loads(template_text())["config"]

    assert (config["schema.include.list"], config["table.include.list"]) == (
        "public", "public\\.cdc_schema_changes,public\\..*")


def test_the_connectors_snapshot_reads_the_schema_changes_first_so_each_tables_definition_precedes_its_rows() -> None:
    # Debezium snapshots the tables in the order of the table.include.list patterns, each pattern's by name.
    config = json.loads(template_text())["config"]

    assert config["table.include.list"].split(",")[0] == "public\\.cdc_schema_changes"
