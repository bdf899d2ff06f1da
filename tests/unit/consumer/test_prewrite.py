"""consumer.prewrite: a large source transaction is written while it is read, uncommitted, and completed by its rest
in the same MySQL transaction; anything unusual gives that up and the transaction is written whole. Without a broker
or MySQL: hand-made Debezium messages, and a sink that records what it is asked."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from consumer import app
from consumer.batch import Batch
from consumer.errors import PrewriteLost
from consumer.sink import WriteResult
from tests.support.debezium import SourceTransaction, transaction
from tests.unit.consumer.test_app import BASE
from tests.unit.consumer.test_app_schema import COUPONS, Feed, new_user, schema_change, started


class RecordingSink:
    """What the writer thread was asked, in order; the rest of a transaction is refused when `lose_rest`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lose_rest = False

    def prewrite(self, part: Batch, xid: int, lsn: int) -> None:
        self.calls.append(("part", xid, part.messages))

    def drop_prewrite(self) -> None:
        self.calls.append(("drop",))

    def write(self, batch: Batch) -> WriteResult:
        self.calls.append(("write", batch.prewritten, batch.messages))
        if batch.prewritten is not None and self.lose_rest:
            raise PrewriteLost("the open MySQL transaction is gone")
        return WriteResult(batch.changes)


@contextmanager
def prewriting(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[app.Replicator, RecordingSink]]:
    """A started replicator that writes a transaction of 2 events or more while it is read, in parts of 2."""
    with started(monkeypatch, {**BASE, "CONSUMER_PREWRITE_EVENTS": "2"}) as replicator:
        sink = RecordingSink()
        replicator.sink = replicator.prewriter.sink = sink  # type: ignore[assignment]
        yield replicator, sink


def step(replicator: app.Replicator) -> None:
    """One pass of the loop's pre-write step, then wait for the writer thread."""
    replicator.prewriter.step(replicator.assembler, replicator._writer_idle(), replicator._new_batch,
                              replicator.paused)
    replicator.writer.submit(lambda: None).result()


def five_users(xid: int = 100, commit_lsn: int = 1_000) -> SourceTransaction:
    return transaction(xid, commit_lsn, [new_user(user_id) for user_id in range(1, 6)])


def test_a_large_transaction_is_written_in_parts_while_it_is_read_and_its_rest_is_a_batch_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    big = five_users()
    with prewriting(monkeypatch) as (replicator, sink):
        feed = Feed(replicator)
        feed(big.begin(), *big.events()[:2])
        step(replicator)
        feed(*big.events()[2:4])
        step(replicator)
        feed(big.events()[4], big.end())
        [rest] = replicator.ready
        assert sink.calls == [("part", 100, 2), ("part", 100, 2)]
        assert rest.prewritten == (100, 4) and rest.whole is not None and len(rest.whole.items) == 5
        assert [action.event.key for action in rest.tables["users"].actions.values()] == [(5,)]
        assert rest.messages == 5 and rest.changes == 5 and rest.source_point is not None


def test_nothing_is_written_before_the_end_while_an_earlier_transaction_is_not_released(
        monkeypatch: pytest.MonkeyPatch) -> None:
    earlier, big = transaction(99, 900, [new_user(9)]), five_users()
    with prewriting(monkeypatch) as (replicator, sink):
        Feed(replicator)(earlier.begin(), earlier.end(), big.begin(), *big.events())
        step(replicator)
        assert sink.calls == []


def test_a_second_copy_of_an_event_already_written_rolls_the_part_back(monkeypatch: pytest.MonkeyPatch) -> None:
    big = five_users()
    with prewriting(monkeypatch) as (replicator, sink):
        feed = Feed(replicator)
        feed(big.begin(), *big.events()[:2])
        step(replicator)
        feed(big.events()[0])  # a connector replay
        step(replicator)
        feed(*big.events()[1:], big.end())
        assert sink.calls == [("part", 100, 2), ("drop",)]
        assert replicator.batch.prewritten is None and replicator.batch.messages == 5  # written whole


def test_a_transaction_holding_a_schema_change_is_not_written_before_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    altering = transaction(100, 1_000, [new_user(1), schema_change(9, COUPONS, "CREATE TABLE"), new_user(2)])
    with prewriting(monkeypatch) as (replicator, sink):
        feed = Feed(replicator)
        feed(altering.begin(), *altering.events())
        step(replicator)
        step(replicator)
        assert sink.calls == []  # the run 1..2 holds the schema change: given up before anything is written
        assert replicator.prewriter.open is None and 100 in replicator.prewriter.given_up


def test_a_lost_rest_puts_the_whole_transaction_first_in_line(monkeypatch: pytest.MonkeyPatch) -> None:
    big = five_users()
    with prewriting(monkeypatch) as (replicator, sink):
        sink.lose_rest = True
        feed = Feed(replicator)
        feed(big.begin(), *big.events()[:4])
        step(replicator)
        step(replicator)
        feed(big.events()[4], big.end())
        replicator._write_if_due()
        assert replicator._complete(block=True)
        [whole] = replicator.ready
        assert whole.prewritten is None and whole.messages == 5
        assert sorted(action.event.key for action in whole.tables["users"].actions.values()) == [
            (1,), (2,), (3,), (4,), (5,)]
