"""marts.health: the events the marts worker's heartbeat counts as waiting."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from core.health import Limits, Verdict, judge, read_heartbeat
from marts.health import MartsHeartbeat, unapplied

ORDERS = "shop.public.orders"
USERS = "shop.public.users"


class TP(NamedTuple):
    topic: str
    partition: int


class FakeFaustConsumer:
    def __init__(self, highs: dict[TP, int | None]) -> None:
        self.highs = highs

    def assignment(self) -> set[TP]:
        return set(self.highs)

    def highwater(self, tp: TP) -> int | None:
        return self.highs[tp]


def test_unapplied_counts_events_after_the_last_applied_offset_up_to_the_high_watermark() -> None:
    assert unapplied({(ORDERS, 0): 100, (ORDERS, 1): 50}, {(ORDERS, 0): 89, (ORDERS, 1): 49}) == 10


def test_unapplied_counts_a_partition_never_applied_from_offset_zero() -> None:
    assert unapplied({(ORDERS, 0): 7}, {}) == 7


def test_unapplied_skips_a_partition_without_a_known_high_watermark() -> None:
    assert unapplied({(ORDERS, 0): None}, {}) == 0


def test_a_beat_counts_only_the_source_topics(tmp_path: Path) -> None:
    consumer = FakeFaustConsumer({TP(ORDERS, 0): 12, TP("cdc-marts-__assignor-__leader", 0): 500})
    heartbeat = MartsHeartbeat(tmp_path / "hb.json", {ORDERS}, lambda: {(ORDERS, 0): 9})

    heartbeat.tick(consumer)

    assert read_heartbeat(tmp_path / "hb.json").waiting == 2


def test_a_beat_after_an_applied_batch_records_its_time(tmp_path: Path) -> None:
    heartbeat = MartsHeartbeat(tmp_path / "hb.json", {USERS}, dict)
    heartbeat.batch_applied()

    heartbeat.tick(FakeFaustConsumer({}))

    beat = read_heartbeat(tmp_path / "hb.json")
    assert beat.last_batch_at is not None and beat.worker == "marts"


def test_a_beat_returns_the_events_waiting_per_source_partition(tmp_path: Path) -> None:
    consumer = FakeFaustConsumer({TP(ORDERS, 0): 12, TP(ORDERS, 1): 3, TP("cdc-marts-__assignor-__leader", 0): 500})
    heartbeat = MartsHeartbeat(tmp_path / "hb.json", {ORDERS}, lambda: {(ORDERS, 0): 9, (ORDERS, 1): 2})

    assert heartbeat.tick(consumer) == {(ORDERS, 0): 2, (ORDERS, 1): 0}


def test_a_paused_marts_worker_says_why_in_every_beat_and_is_unhealthy(tmp_path: Path) -> None:
    heartbeat = MartsHeartbeat(tmp_path / "hb.json", {ORDERS}, dict)
    heartbeat.paused("marts paused at source schema change 41 ...")

    heartbeat.tick(FakeFaustConsumer({}))

    beat = read_heartbeat(tmp_path / "hb.json")
    assert beat.paused == "marts paused at source schema change 41 ..."
    assert judge(beat, beat.written_at, Limits()) == Verdict(False, "paused: marts paused at source schema change 41 ...")
