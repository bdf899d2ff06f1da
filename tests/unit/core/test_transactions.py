"""core.transactions: source transactions released whole, in commit order, exactly once."""
from __future__ import annotations

import random

import pytest

from core.errors import RenumberedTransaction
from core.transactions import (
    Assembler,
    Loose,
    Transaction,
    TransactionMetadataError,
    TxEnd,
    TxTag,
    parse_end,
    parse_tag,
)

ORDERS, LINES = ("shop.public.orders", 0), ("shop.public.order_details", 1)
LINES_2 = ("shop.public.order_details", 2)
TX_TOPIC = ("shop.transaction", 0)
COLLECTIONS = {"public.orders", "public.order_details"}


def end(xid: int, lsn: int, orders: int = 0, lines: int = 0, **others: int) -> TxEnd:
    counts = {"public.orders": orders, "public.order_details": lines} | {f"public.{t}": n for t, n in others.items()}
    return TxEnd(xid, lsn, {name: count for name, count in counts.items() if count})


def xids(released: list) -> list:
    return [r.xid if isinstance(r, Transaction) else ("loose", r.item) for r in released]


def test_a_transaction_is_released_only_when_all_its_events_and_its_end_are_read() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assert assembler.add(ORDERS, 0, TxTag(7, 1), "order") == []
    assert assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=2)) == []
    assert assembler.add(LINES, 0, TxTag(7, 2), "line a") == []
    released = assembler.add(LINES_2, 0, TxTag(7, 3), "line b")
    assert released == [Transaction(7, 100, ("order", "line a", "line b"))]


def test_items_come_out_in_the_transactions_source_order_whatever_the_arrival_order() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(LINES, 0, TxTag(7, 3), "third")
    assembler.add(LINES_2, 0, TxTag(7, 2), "second")
    assembler.add(ORDERS, 0, TxTag(7, 1), "first")
    [transaction] = assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=2))
    assert isinstance(transaction, Transaction) and transaction.items == ("first", "second", "third")


def test_a_complete_transaction_waits_for_an_earlier_incomplete_one() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=1))
    assembler.add_end(TX_TOPIC, 1, end(8, 200, orders=1))
    assembler.add(ORDERS, 0, TxTag(7, 1), "7 order")
    assert assembler.add(ORDERS, 1, TxTag(8, 1), "8 order") == []
    assert xids(assembler.add(LINES, 0, TxTag(7, 2), "7 line")) == [7, 8]


def test_only_the_consumed_tables_are_counted() -> None:
    assembler: Assembler[str] = Assembler({"public.orders"})
    assembler.add(ORDERS, 0, TxTag(7, 1), "order")
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=5))) == [7]


def test_an_assembler_of_every_table_waits_for_a_table_it_has_not_read_from_yet() -> None:
    assembler: Assembler[str] = Assembler(None)
    assembler.add(ORDERS, 0, TxTag(7, 1), "order")
    assert assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, coupons=1)) == []
    assert xids(assembler.add(("shop.public.coupons", 0), 0, TxTag(7, 2), "coupon")) == [7]


def test_a_transaction_without_consumed_events_is_released_empty_to_move_the_watermark() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assert assembler.add_end(TX_TOPIC, 0, end(9, 300, cdc_heartbeat=1)) == [Transaction(9, 300, ())]


def test_a_replayed_copy_of_an_event_replaces_the_first_and_is_not_counted_twice() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "first copy")
    assembler.add(ORDERS, 1, TxTag(7, 1), "second copy")
    assert assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=1)) == []
    [transaction] = assembler.add(LINES, 0, TxTag(7, 2), "line")
    assert isinstance(transaction, Transaction) and transaction.items == ("second copy", "line")
    assert assembler.positions()[ORDERS] == 2


def test_copies_of_an_event_at_one_wal_position_are_one_event() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1, 500), "first copy")
    assembler.add(ORDERS, 1, TxTag(7, 1, 500), "second copy")
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))) == [7]


def test_an_event_number_held_at_another_wal_position_stops_as_a_renumbered_transaction() -> None:
    # Debezium resumed inside transaction 7 after its second event and numbered the rest from 1 again.
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1, 500), "order, before the restart")
    assembler.add(LINES, 0, TxTag(7, 2, 600), "line a, before the restart")
    with pytest.raises(RenumberedTransaction, match="source transaction 7: event 1 of it came at two WAL positions"):
        assembler.add(LINES_2, 0, TxTag(7, 1, 700), "line b, numbered 1 after the restart")


def test_more_events_held_than_the_end_counts_stops_as_a_renumbered_transaction() -> None:
    # Events 1-3 were written before the restart; after it, the END counts only the two renumbered ones.
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    for order, lsn in ((1, 500), (2, 600), (3, 700)):
        assembler.add(LINES, order, TxTag(7, order, lsn), f"line {order}, before the restart")
    with pytest.raises(RenumberedTransaction, match="source transaction 7: 3 of its events are held, its END counts 2"):
        assembler.add_end(TX_TOPIC, 0, end(7, 100, lines=2))


def test_a_late_copy_at_another_wal_position_than_the_released_event_stops_as_a_renumbered_transaction() -> None:
    # The END counted 2, and the two events from before the restart were held: released, but the wrong ones.
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1, 500), "order, before the restart")
    assembler.add(LINES, 0, TxTag(7, 2, 600), "line a, before the restart")
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=1))) == [7]
    with pytest.raises(RenumberedTransaction, match="event 1 of it came at WAL position 700 after it was applied "
                                                    "from WAL position 500"):
        assembler.add(LINES_2, 0, TxTag(7, 1, 700), "line b, numbered 1 after the restart")


def test_a_late_copy_numbered_beyond_the_released_events_stops_as_a_renumbered_transaction() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(LINES_2, 0, TxTag(7, 1, 700), "line b, numbered 1 after the restart")
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, lines=1))) == [7]
    with pytest.raises(RenumberedTransaction, match="event 2 of it \\(WAL position 600\\) came after it was applied "
                                                    "with 1 events"):
        assembler.add(LINES, 0, TxTag(7, 2, 600), "line a, before the restart")


def test_a_late_copy_of_a_released_event_is_no_renumbering() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1, 500), "order")
    assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))
    assert assembler.add(ORDERS, 1, TxTag(7, 1, 500), "its copy, replayed") == []


def test_a_transaction_at_or_below_the_stored_watermark_is_dropped_as_a_replay() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS, released_lsn=100)
    assembler.add(ORDERS, 5, TxTag(7, 1), "applied before")
    assert assembler.add_end(TX_TOPIC, 3, end(7, 100, orders=1)) == []
    assert assembler.positions() == {ORDERS: 6, TX_TOPIC: 4}


def test_a_second_end_of_a_released_transaction_releases_nothing() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "order")
    assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))
    assembler.add(ORDERS, 1, TxTag(7, 1), "order again")
    assert assembler.add_end(TX_TOPIC, 1, end(7, 100, orders=1)) == []
    assert assembler.positions() == {ORDERS: 2, TX_TOPIC: 2}


def test_events_of_an_interrupted_write_are_dropped_when_a_later_transaction_passes_them() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(6, 1), "orphan: its END never came")
    assembler.add(ORDERS, 1, TxTag(7, 1), "order")
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))) == [7]
    assert assembler.positions()[ORDERS] == 2
    assert assembler.held() == 0


def test_a_replay_read_before_its_end_leaves_the_transactions_between_the_copies_alone() -> None:
    # The connector wrote 7 and 8, then replayed from before 7: 8 sits between 7's copies, and is no orphan.
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "7")
    assembler.add(ORDERS, 1, TxTag(8, 1), "8")
    assembler.add(ORDERS, 2, TxTag(7, 1), "7 replayed")
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))) == [7]
    assert xids(assembler.add_end(TX_TOPIC, 1, end(8, 200, orders=1))) == [8]
    assert assembler.add_end(TX_TOPIC, 2, end(7, 100, orders=1)) == []
    assert assembler.positions() == {ORDERS: 3, TX_TOPIC: 3}


def test_positions_stop_at_the_first_message_not_yet_released() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 10, TxTag(7, 1), "7")
    assembler.add(ORDERS, 11, TxTag(8, 1), "8")
    assembler.add_end(TX_TOPIC, 40, None)  # BEGIN 7
    assembler.add_end(TX_TOPIC, 41, end(7, 100, orders=1))
    assembler.add_end(TX_TOPIC, 42, None)  # BEGIN 8
    assembler.add_end(TX_TOPIC, 43, end(8, 200, orders=1, lines=1))
    assert assembler.positions() == {ORDERS: 11, TX_TOPIC: 43}  # END 8 is re-read; BEGINs carry nothing


def test_a_loose_message_is_released_once_everything_before_it_in_its_partition_is() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "delete")
    assert assembler.add(ORDERS, 1, None, "tombstone") == []
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))) == [7, ("loose", "tombstone")]


def test_a_loose_message_at_the_head_of_its_partition_is_released_at_once() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "pending elsewhere")
    assert assembler.add(LINES, 0, None, "snapshot read") == [Loose("snapshot read")]


def test_waiting_for_names_the_transaction_and_what_is_missing() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "order")
    assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1, lines=2))
    assert assembler.waiting_for() == (
        "transaction 7 (commit lsn 100): 1 of 3 events of public.order_details, public.orders")


def test_parse_tag_reads_the_xid_the_total_order_and_the_events_wal_position() -> None:
    assert parse_tag({"id": "741:26765104", "total_order": 2, "data_collection_order": 1}) == TxTag(741, 2, 26765104)


def test_parse_tag_of_an_id_without_a_wal_position_has_none() -> None:
    assert parse_tag({"id": "741", "total_order": 2}) == TxTag(741, 2)


def test_parse_tag_of_a_snapshot_read_is_none() -> None:
    assert parse_tag(None) is None


def test_parse_end_reads_the_commit_lsn_and_the_counts() -> None:
    value = {"status": "END", "id": "736:26763064", "event_count": 3, "ts_ms": 5,
             "data_collections": [{"data_collection": "public.orders", "event_count": 1},
                                  {"data_collection": "public.order_details", "event_count": 2}]}
    assert parse_end(value) == TxEnd(736, 26763064, {"public.orders": 1, "public.order_details": 2}, 5)


def test_parse_end_of_a_begin_is_none() -> None:
    assert parse_end({"status": "BEGIN", "id": "736:26761976", "event_count": None}) is None


def test_parse_end_refuses_an_unknown_status() -> None:
    with pytest.raises(TransactionMetadataError, match="unknown transaction status 'COMMIT'"):
        parse_end({"status": "COMMIT", "id": "1:2"})


def test_an_event_arriving_after_its_replayed_transactions_end_is_dropped_on_arrival() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS, released_lsn=100)
    assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))
    assert assembler.add(ORDERS, 0, TxTag(7, 1), "applied before") == []
    assert assembler.positions() == {ORDERS: 1, TX_TOPIC: 1}


def test_a_late_copy_of_a_released_transactions_event_is_dropped_on_arrival() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "order")
    assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))
    assert assembler.add(LINES, 0, TxTag(7, 1), "copy") == []
    assert assembler.held() == 0


def test_a_message_read_again_after_a_seek_back_is_ignored() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(ORDERS, 0, TxTag(7, 1), "order")
    assert assembler.add(ORDERS, 0, TxTag(7, 1), "order read again") == []
    [transaction] = assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1))
    assert isinstance(transaction, Transaction) and transaction.items == ("order",)
    assert assembler.add_end(TX_TOPIC, 0, end(7, 100, orders=1)) == []


# --- a model of the connector's crashes and replays and of the stage's restarts ---------------------------

MODEL_PARTITIONS = [("shop.public.orders", p) for p in range(3)] + [("shop.public.order_details", p) for p in range(2)]
Written = tuple[tuple[str, int], tuple[int, ...]]  # where, (xid, total_order, lsn) or (xid, commit lsn, count)


def connector_output(rnd: random.Random) -> tuple[list[tuple[int, int]], list[Written]]:
    """Transactions (xid, event count) in commit order, and what a connector that crashes 0-3 times writes:
    each pass streams from some transaction on, in commit order (each transaction's events, then its END),
    until a crash cuts it anywhere; the next pass starts again at or before the transaction cut. Every copy of
    an event has its WAL position (before its transaction's commit LSN): the renumbering check never fires."""
    transactions = [(1000 + number, rnd.randint(0, 5)) for number in range(rnd.randint(3, 12))]
    where = {(xid, order): rnd.choice(MODEL_PARTITIONS) for xid, count in transactions for order in range(1, count + 1)}

    def stream(start: int) -> list[Written]:
        out: list[Written] = []
        for number, (xid, count) in enumerate(transactions[start:], start):
            out += [(where[(xid, order)], (xid, order, 100 * number + order)) for order in range(1, count + 1)]
            out.append((TX_TOPIC, (xid, 100 * (number + 1), count)))
        return out

    written: list[Written] = []
    start = 0
    for _ in range(rnd.randint(0, 3)):
        cut = stream(start)[:rnd.randint(0, len(stream(start)))]
        written += cut
        start = rnd.randint(0, start + sum(1 for where_, _ in cut if where_ == TX_TOPIC))
    return transactions, written + stream(start)


def stage_output(rnd: random.Random, written: list[Written]) -> list[tuple[int, int]]:
    """What a stage applies, reading the partitions in a random interleaving and crashing now and then
    (everything released is in MySQL with its watermark; Kafka has the positions of some earlier cut)."""
    log: dict[tuple[str, int], list[tuple[int, ...]]] = {}
    for where, message in written:
        log.setdefault(where, []).append(message)
    committed = dict.fromkeys(log, 0)
    cuts = [committed]
    assembler: Assembler[int] = Assembler(COLLECTIONS)
    read = dict(committed)
    applied: list[tuple[int, int]] = []
    while any(read[where] < len(messages) for where, messages in log.items()):
        if rnd.random() < 0.03:
            committed = rnd.choice(cuts)
            assembler, read, cuts = Assembler(COLLECTIONS, assembler.released_lsn), dict(committed), [committed]
            continue
        where = rnd.choice([where for where, messages in log.items() if read[where] < len(messages)])
        offset = read[where]
        message = log[where][offset]
        read[where] += 1
        if where == TX_TOPIC:
            xid, lsn, count = message
            released = assembler.add_end(where, offset, end(xid, lsn, orders=count))
        else:
            released = assembler.add(where, offset, TxTag(*message), message[1])
        applied += [(item.xid, len(item.items)) for item in released if isinstance(item, Transaction)]
        if released:
            cuts.append({**committed, **assembler.positions()})
    return applied


@pytest.mark.parametrize("seed", range(0, 2000, 100))
def test_every_transaction_is_applied_once_in_commit_order_whatever_the_crashes_and_replays(seed: int) -> None:
    for run in range(seed, seed + 100):
        rnd = random.Random(run)
        transactions, written = connector_output(rnd)
        assert stage_output(rnd, written) == transactions, f"seed {run}"


def test_a_loose_message_given_a_position_waits_for_a_transaction_committed_at_or_after_it() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assert assembler.add(LINES, 0, None, "backfill read", after_lsn=150) == []
    assert xids(assembler.add_end(TX_TOPIC, 0, end(7, 100))) == [7]  # before the read's position: it waits
    assert xids(assembler.add_end(TX_TOPIC, 1, end(8, 160))) == [8, ("loose", "backfill read")]
    assert assembler.positions()[LINES] == 1


def test_a_waiting_loose_message_holds_back_its_partitions_position() -> None:
    assembler: Assembler[str] = Assembler(COLLECTIONS)
    assembler.add(LINES, 0, None, "backfill read", after_lsn=150)
    assembler.add(LINES, 1, None, "snapshot read")
    assert assembler.positions()[LINES] == 0
