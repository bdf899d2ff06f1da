"""Coalescing: the last change per key wins, truncates reset their table, every message taken is counted."""
from __future__ import annotations

from consumer.batch import Batch
from consumer.envelope import ChangeEvent, DecodeError, Skip
from core.deadletter import RawMessage


def raw(offset: int, partition: int = 0, topic: str = "shop.public.orders") -> RawMessage:
    return RawMessage(topic, partition, offset, b"k", b"v")


def upsert(key: int, offset: int, value: str = "x", partition: int = 0, lsn: int | None = None) -> ChangeEvent:
    return ChangeEvent("orders", "u", (key,), (key, value), raw(offset, partition), 100 + offset if lsn is None else lsn)


def delete(key: int, offset: int) -> ChangeEvent:
    return ChangeEvent("orders", "d", (key,), None, raw(offset), 100 + offset)


def truncate(lsn: int, offset: int = 0, partition: int = 3) -> ChangeEvent:
    return ChangeEvent("orders", "t", None, None, raw(offset, partition), lsn)


def test_last_change_per_key_wins_and_keys_stay_apart() -> None:
    batch = Batch()
    for event in (upsert(1, 0, "a"), upsert(2, 1, "b"), upsert(1, 2, "c"), delete(2, 3)):
        batch.add(event)
    orders = batch.tables["orders"]
    assert [a.event.row for a in orders.upserts()] == [(1, "c")]
    assert [a.event.key for a in orders.deletes()] == [(2,)]
    assert batch.changes == 4 and batch.actions() == 2


def test_delete_then_recreate_is_an_upsert() -> None:
    batch = Batch()
    batch.add(delete(1, 0))
    batch.add(upsert(1, 1, "again"))
    assert [a.event.row for a in batch.tables["orders"].upserts()] == [(1, "again")]
    assert batch.tables["orders"].deletes() == []


def test_truncate_drops_earlier_changes_and_keeps_later_ones() -> None:
    batch = Batch()
    batch.add(upsert(1, 0, lsn=100))
    batch.add(truncate(150))
    batch.add(upsert(2, 2, lsn=200))
    orders = batch.tables["orders"]
    assert orders.truncate_lsn == 150 and list(orders.actions) == [(2,)]


def test_truncate_keeps_a_change_from_after_it_taken_before_it() -> None:
    batch = Batch()
    batch.add(upsert(1, 0, partition=1, lsn=300))
    batch.add(truncate(200))
    assert list(batch.tables["orders"].actions) == [(1,)]


def test_change_from_before_the_truncate_taken_after_it_is_dropped() -> None:
    batch = Batch()
    batch.add(truncate(200))
    batch.add(upsert(1, 0, partition=2, lsn=150))
    assert batch.tables["orders"].actions == {}


def test_batch_keeps_its_highest_truncate() -> None:
    batch = Batch()
    batch.add(truncate(300, offset=0, partition=3))
    batch.add(truncate(200, offset=0, partition=2))
    assert batch.tables["orders"].truncate_lsn == 300


def test_changes_before_an_applied_truncate_are_not_live() -> None:
    batch = Batch()
    batch.add(upsert(1, 0, lsn=150))
    batch.add(upsert(2, 1, lsn=250))
    assert [a.event.key for a in batch.tables["orders"].upserts(watermark=200)] == [(2,)]


def test_update_moving_the_key_deletes_the_old_one() -> None:
    batch = Batch()
    batch.add(ChangeEvent("orders", "u", (6,), (6, "x"), raw(0), 100, old_key=(5,)))
    orders = batch.tables["orders"]
    assert [a.event.old_key for a in orders.deletes()] == [(5,)]
    assert [a.event.key for a in orders.upserts()] == [(6,)]


def test_changes_errors_and_skips_are_all_counted() -> None:
    batch = Batch()
    batch.add(upsert(1, 7, partition=0))
    batch.add(upsert(1, 3, partition=1))
    batch.add(DecodeError(raw(8, 0), "value is not JSON"))
    batch.add(Skip(raw(4, 1), "tombstone"))
    assert [letter.error for letter in batch.dead_letters] == ["value is not JSON"]
    assert batch.messages == 4 and batch.changes == 2 and bool(batch)
    assert not Batch()


def test_the_source_commit_times_of_changes_and_heartbeats_are_kept() -> None:
    batch = Batch()
    batch.add(ChangeEvent("orders", "u", (1,), (1, "x"), raw(1), 101, commit_us=5_000_000))
    batch.add(Skip(raw(0, topic="shop.public.cdc_heartbeat"), "heartbeat", commit_us=6_000_000))
    batch.add(Skip(raw(2), "tombstone"))
    assert batch.source_ms == [5_000, 6_000]
