"""consumer.schema_history: which recorded definition a replica table starts from."""
from __future__ import annotations

from consumer.schema_history import Baseline, _note
from core.source.catalog import catalog_of
from core.source.tables import TABLES
from tests.support.debezium import envelope

USERS = catalog_of(TABLES["users"])


def row(op: str, version: int) -> bytes:
    after = {"id": version, "table_name": "users", "command": "ALTER TABLE", "definition": USERS.to_json()}
    return envelope("cdc_schema_changes", op, None, after)


def noted(*values: bytes) -> tuple[dict[str, Baseline], dict[str, Baseline]]:
    snapshot: dict[str, Baseline] = {}
    streamed: dict[str, Baseline] = {}
    for offset, value in enumerate(values):
        _note(value, offset, "t", snapshot, streamed)
    return snapshot, streamed


def test_the_latest_snapshot_row_is_the_shape_the_snapshot_saw() -> None:
    snapshot, _ = noted(row("r", 3), row("r", 9), row("r", 5))
    assert snapshot["users"][0] == 9


def test_of_streamed_rows_the_first_is_kept() -> None:
    _, streamed = noted(row("c", 12), row("c", 15))
    assert streamed["users"][0] == 12


def test_deletes_and_tombstones_are_no_definitions() -> None:
    snapshot, streamed = noted(row("d", 3))
    assert snapshot == streamed == {}
