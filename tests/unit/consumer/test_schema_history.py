"""consumer.schema_history: which recorded definition a replica table starts from."""
from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from consumer.schema_history import _History, _note, _read_what_is_there
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


class SlowConsumer:
    """A consumer whose first polls come back empty (before its first fetch), then yields `values`."""

    def __init__(self, empty_polls: int, values: list[bytes]) -> None:
        self.empty_polls = empty_polls
        self.values = values
        self.offset = 0

    def poll(self, timeout: float) -> Any:
        if self.empty_polls:
            self.empty_polls -= 1
            return None
        if self.offset == len(self.values):
            return None
        message = FakeMessage(self.values[self.offset], self.offset)
        self.offset += 1
        return message

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(partitions[0].topic, 0, self.offset if self.offset else -1001)]


class FakeMessage:
    def __init__(self, value: bytes, offset: int) -> None:
        self._value, self._offset = value, offset

    def value(self) -> bytes:
        return self._value

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


def test_a_read_goes_on_past_empty_first_polls_until_it_reaches_the_end_it_was_given() -> None:
    history = _History()
    reached = _read_what_is_there(SlowConsumer(3, [row("r", 3, "ALTER PUBLICATION")]), "t", history,  # type: ignore[arg-type]
                                  at_least=1)
    assert (reached, history.published) == (1, {"users"})
