"""consumer.schema_history: which recorded definition a replica table starts from."""
from __future__ import annotations

from consumer.schema_history import _History, _note
from core.source.catalog import catalog_of
from core.source.tables import TABLES
from tests.support.debezium import envelope

USERS = catalog_of(TABLES["users"])


def row(op: str, version: int, command: str = "ALTER TABLE") -> bytes:
    after = {"id": version, "table_name": "users", "command": command, "definition": USERS.to_json()}
    return envelope("cdc_schema_changes", op, None, after)


def noted(*values: bytes) -> _History:
    history = _History()
    for offset, value in enumerate(values):
        _note(value, offset, "t", history)
    return history


def test_the_latest_snapshot_row_is_the_shape_the_snapshot_saw() -> None:
    assert noted(row("r", 3), row("r", 9), row("r", 5)).snapshot["users"][0] == 9


def test_of_streamed_rows_the_first_is_kept() -> None:
    assert noted(row("c", 12), row("c", 15)).streamed["users"][0] == 12


def test_deletes_and_tombstones_are_no_definitions() -> None:
    history = noted(row("d", 3))
    assert history.snapshot == history.streamed == {}


def test_a_snapshot_row_of_a_tables_addition_to_the_publication_marks_it_read_by_the_snapshot() -> None:
    assert noted(row("r", 3, "ALTER PUBLICATION"), row("r", 5)).published == {"users"}


def test_a_streamed_row_of_a_tables_addition_to_the_publication_does_not_mark_it() -> None:
    assert noted(row("c", 3, "ALTER PUBLICATION")).published == set()
