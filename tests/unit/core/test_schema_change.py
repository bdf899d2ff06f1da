"""core.schema_change: a cdc_schema_changes row from its after-image."""
from __future__ import annotations

import pytest

from core.schema_change import SchemaRow, schema_row
from core.source.catalog import CatalogError, catalog_of
from core.source.tables import TABLES


def test_a_rows_version_definition_and_statement_are_read() -> None:
    definition = catalog_of(TABLES["orders"])
    after = {"id": 12, "definition": definition.to_json(), "statement": "ALTER TABLE orders ADD COLUMN x text"}
    assert schema_row(after) == SchemaRow(12, definition, "ALTER TABLE orders ADD COLUMN x text")


def test_a_row_without_a_statement_has_none() -> None:
    assert schema_row({"id": "3", "definition": catalog_of(TABLES["users"]).to_json()}).statement is None


@pytest.mark.parametrize("after", [None, {"id": 1}, {"id": "x", "definition": "{}"}, {"id": 1, "definition": "[]"}])
def test_what_is_not_a_schema_change_row_raises(after: object) -> None:
    with pytest.raises(CatalogError):
        schema_row(after)
