"""A row of cdc_schema_changes (migration 0003) as a stage reads it from its change event's after-image.

The event trigger inserts one row per table an ALTER/CREATE TABLE touched, in
the DDL's own transaction: its id (the version), the table's complete new
definition (core.source.catalog) and the statement. Both stages read it from
the schema-changes topic (core.topic_names.schema_changes_topic).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.source.catalog import CatalogError, CatalogTable, parse_definition


@dataclass(frozen=True)
class SchemaRow:
    version: int  # the row's id: increasing in the order the DDL ran
    definition: CatalogTable
    statement: str | None = None  # the DDL's text
    command: str | None = None  # what recorded it: ALTER TABLE, CREATE TABLE, BASELINE, ALTER PUBLICATION (0005)


def schema_row(after: Any) -> SchemaRow:
    """The row of an insert's after-image; raises CatalogError when it is not one."""
    if not isinstance(after, dict):
        raise CatalogError(f"a schema change row is an object, not {type(after).__name__}")
    try:
        version = int(after["id"])
        definition = parse_definition(str(after["definition"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"not a schema change row: {exc!r}") from None
    statement, command = after.get("statement"), after.get("command")
    return SchemaRow(version, definition, statement if isinstance(statement, str) else None,
                     command if isinstance(command, str) else None)
