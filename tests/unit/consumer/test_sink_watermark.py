"""The sink's check of the replica's watermark before a batch (consumer.sink.applied_before)."""
from __future__ import annotations

from typing import Any

import pytest

from consumer.batch import Batch
from consumer.errors import WatermarkAhead
from consumer.sink import applied_before
from core.transactions import Transaction


class WatermarkCursor:
    """Answers the watermark query with `stored` (None: no row yet) and records the statements."""

    def __init__(self, stored: int | None) -> None:
        self.stored = stored
        self.statements: list[tuple[str, Any]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.statements.append((sql, params))

    def fetchone(self) -> tuple[int] | None:
        return None if self.stored is None else (self.stored,)


def batch_of(*commit_lsns: int) -> Batch:
    batch = Batch()
    for number, lsn in enumerate(commit_lsns):
        batch.add_released(Transaction(700 + number, lsn, ()))
    return batch


def test_a_batch_knows_its_first_and_last_transaction() -> None:
    batch = batch_of(10, 20, 30)

    assert (batch.first_lsn, batch.source_point.lsn if batch.source_point else None) == (10, 30)


def test_a_batch_above_the_watermark_is_applied_and_the_watermark_row_is_locked() -> None:
    cursor = WatermarkCursor(9)

    assert applied_before(cursor, batch_of(10, 20)) is False
    assert cursor.statements == [("SELECT source_lsn FROM `cdc_watermark` WHERE stage = %s FOR UPDATE",
                                  ("replica",))]


def test_a_batch_on_an_empty_watermark_is_applied() -> None:
    assert applied_before(WatermarkCursor(None), batch_of(10)) is False


@pytest.mark.parametrize("stored", [20, 25])
def test_a_batch_the_watermark_covers_whole_was_applied_before(stored: int) -> None:
    assert applied_before(WatermarkCursor(stored), batch_of(10, 20)) is True


@pytest.mark.parametrize("stored", [10, 15])
def test_a_watermark_inside_the_batch_means_another_writer_and_stops_the_consumer(stored: int) -> None:
    with pytest.raises(WatermarkAhead, match=f"watermark is at LSN {stored}, past this batch's first transaction"):
        applied_before(WatermarkCursor(stored), batch_of(10, 20))


def test_a_batch_without_transactions_reads_no_watermark() -> None:
    cursor = WatermarkCursor(50)

    assert (applied_before(cursor, Batch()), cursor.statements) == (False, [])
