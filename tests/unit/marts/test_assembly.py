"""marts.assembly: Faust's events become batches of whole source transactions, with what they complete."""
from __future__ import annotations

import json
from types import SimpleNamespace

from core.deadletter import RawMessage
from core.watermark import SourcePoint
from marts.assembly import MartsAssembly

ORDERS, TX = "shop.public.orders", "shop.transaction"
TABLES = {ORDERS: "orders", "shop.public.order_details": "order_details"}
ORDER = {"order_id": 7, "user_id": 3, "order_date": "2026-03-29T01:59:59.999999Z",
         "total_amount": "12.50", "status": "pending", "delivery_date": None}


def faust_event(offset: int, value: bytes | None, topic: str = ORDERS, partition: int = 1) -> SimpleNamespace:
    message = SimpleNamespace(topic=topic, partition=partition, offset=offset, key=b'{"order_id":7}', value=value)
    return SimpleNamespace(message=message)


def change(xid: int | None = None, order: int = 1) -> bytes:
    transaction = None if xid is None else {"id": f"{xid}:1", "total_order": order}
    return json.dumps({"op": "c", "before": None, "after": ORDER, "transaction": transaction,
                       "source": {"table": "orders", "lsn": 500, "ts_ms": 1_700_000_000_123,
                                  "ts_us": 1_700_000_000_123_456}}).encode()


def end(xid: int, lsn: int, orders: int) -> bytes:
    return json.dumps({"status": "END", "id": f"{xid}:{lsn}", "event_count": orders,
                       "data_collections": [{"data_collection": "public.orders", "event_count": orders}]}).encode()


def test_a_transactions_events_wait_for_its_end() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    assert assembly.take([faust_event(5, change(xid=9))]) is None
    work = assembly.take([faust_event(0, end(9, 800, orders=1), topic=TX, partition=0)])
    assert work is not None and [e.position.offset for e in work.events] == [5]
    assert work.mark is not None and work.mark.point == SourcePoint(800, 9, 1_700_000_000_123_456)
    assert work.mark.positions == {(ORDERS, 1): 5, (TX, 0): 0}


def test_malformed_events_and_tombstones_outside_transactions_apply_nothing_but_their_offsets_count() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    work = assembly.take([faust_event(5, b"{broken"), faust_event(6, change()), faust_event(7, None)])
    assert work is not None and work.mark is not None
    assert [e.position.offset for e in work.events] == [6]
    assert work.mark.positions == {(ORDERS, 1): 7}


def test_a_malformed_event_becomes_a_dead_letter_with_its_original_bytes() -> None:
    work = MartsAssembly("shop", TABLES, released_lsn=-1).take([faust_event(5, b"{broken")])
    assert work is not None
    assert [(letter.raw, letter.stage) for letter in work.letters] == [
        (RawMessage(ORDERS, 1, 5, b'{"order_id":7}', b"{broken"), "decode")]
    assert work.letters[0].error.startswith("value is not JSON")


def test_a_transaction_already_applied_is_skipped() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=800)
    assert assembly.take([faust_event(5, change(xid=9)),
                          faust_event(0, end(9, 800, orders=1), topic=TX, partition=0)]) is None
