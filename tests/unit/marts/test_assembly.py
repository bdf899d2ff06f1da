"""marts.assembly: Faust's messages become batches of whole source transactions, with what they complete."""
from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

from core.deadletter import RawMessage
from core.source.catalog import CatalogTable, catalog_of
from core.source.tables import TABLES as SOURCE
from core.watermark import SourcePoint
from marts.assembly import MartsAssembly
from marts.pause import Pause

ORDERS, TX = "shop.public.orders", "shop.transaction"
TABLES = {ORDERS: "orders", "shop.public.order_details": "order_details"}
ORDER = {"order_id": 7, "user_id": 3, "order_date": "2026-03-29T01:59:59.999999Z",
         "total_amount": "12.50", "status": "pending", "delivery_date": None}


def message(offset: int, value: bytes | None, topic: str = ORDERS, partition: int = 1) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, key=b'{"order_id":7}', value=value)


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
    assert assembly.take([message(5, change(xid=9))]) is None
    work = assembly.take([message(0, end(9, 800, orders=1), topic=TX, partition=0)])
    assert work is not None and [e.position.offset for e in work.events] == [5]
    assert work.mark is not None and work.mark.point == SourcePoint(800, 9, 1_700_000_000_123_456)
    assert work.mark.positions == {(ORDERS, 1): 5, (TX, 0): 0}


def test_malformed_events_and_tombstones_outside_transactions_apply_nothing_but_their_offsets_count() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    work = assembly.take([message(5, b"{broken"), message(6, change()), message(7, None)])
    assert work is not None and work.mark is not None
    assert [e.position.offset for e in work.events] == [6]
    assert work.mark.positions == {(ORDERS, 1): 7}


def test_a_malformed_event_becomes_a_dead_letter_with_its_original_bytes() -> None:
    work = MartsAssembly("shop", TABLES, released_lsn=-1).take([message(5, b"{broken")])
    assert work is not None
    assert [(letter.raw, letter.stage) for letter in work.letters] == [
        (RawMessage(ORDERS, 1, 5, b'{"order_id":7}', b"{broken"), "decode")]
    assert work.letters[0].error.startswith("value is not JSON")


def test_a_transaction_already_applied_is_skipped() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=800)
    assert assembly.take([message(5, change(xid=9)),
                          message(0, end(9, 800, orders=1), topic=TX, partition=0)]) is None


SCHEMA = "shop.public.cdc_schema_changes"


def schema_change(xid: int, order: int, definition: CatalogTable, version: int = 40) -> bytes:
    return json.dumps({"op": "c", "before": None,
                       "after": {"id": version, "definition": definition.to_json(), "statement": "ALTER TABLE ..."},
                       "transaction": {"id": f"{xid}:1", "total_order": order},
                       "source": {"table": "cdc_schema_changes", "lsn": 600, "ts_ms": 1_700_000_000_200}}).encode()


def end_of(xid: int, lsn: int, **counts: int) -> bytes:
    collections = [{"data_collection": f"public.{table}", "event_count": count} for table, count in counts.items()]
    return json.dumps({"status": "END", "id": f"{xid}:{lsn}", "event_count": sum(counts.values()),
                       "data_collections": collections}).encode()


def retyped_total_price(pg_type: str) -> CatalogTable:
    definition = catalog_of(SOURCE["order_details"])
    return replace(definition, columns=tuple(replace(c, pg_type=pg_type) if c.name == "total_price" else c
                                             for c in definition.columns))


def test_the_schema_changes_topic_is_read_with_the_tables() -> None:
    assert SCHEMA in MartsAssembly("shop", TABLES, released_lsn=-1).topics()


def test_a_definition_the_marts_decode_exactly_is_released_in_its_transaction_and_pauses_nothing() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    work = assembly.take([message(0, schema_change(9, 1, retyped_total_price("numeric(14,2)")), topic=SCHEMA,
                                      partition=0),
                          message(5, change(xid=9, order=2)),
                          message(0, end_of(9, 800, cdc_schema_changes=1, orders=1), topic=TX, partition=0)])
    assert work is not None and work.mark is not None and work.mark.pause is None
    assert [(e.position.topic, e.position.offset) for e in work.events] == [(SCHEMA, 0), (ORDERS, 5)]
    assert work.mark.point is not None and work.mark.point.xid == 9
    assert assembly.paused is None


def test_a_misfit_pauses_the_marts_after_the_transactions_before_its_own() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    work = assembly.take([
        message(5, change(xid=8)),
        message(0, end(8, 700, orders=1), topic=TX, partition=0),
        message(6, change(xid=9, order=1)),
        message(0, schema_change(9, 2, retyped_total_price("numeric(14,4)"), version=41), topic=SCHEMA,
                    partition=0),
        message(1, end_of(9, 800, orders=1, cdc_schema_changes=1), topic=TX, partition=0),
        message(7, change(xid=10)),
        message(2, end(10, 900, orders=1), topic=TX, partition=0),
    ])
    assert work is not None and work.mark is not None
    assert [e.position.offset for e in work.events] == [5]
    assert work.mark.point is not None and work.mark.point.xid == 8
    assert work.mark.positions == {}  # only the applied events' own offsets are stored
    pause = work.mark.pause
    assert pause is not None and assembly.paused == pause
    assert (pause.table, pause.column, pause.version, pause.xid, pause.commit_lsn) == (
        "order_details", "total_price", 41, 9, 800)
    assert pause.what.startswith("order_details.total_price type numeric(12,2) -> numeric(14,4)")
    assert assembly.take([message(8, change(xid=11)),
                          message(3, end(11, 1000, orders=1), topic=TX, partition=0)]) is None


def test_an_assembly_started_paused_takes_nothing() -> None:
    pause = Pause("orders", "status", "orders.status dropped", 3, 9, 800)
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1, paused=pause)
    assert assembly.take([message(5, change(xid=9)), message(0, end(9, 900, orders=1), topic=TX,
                                                                       partition=0)]) is None


def test_snapshot_reads_of_the_schema_history_are_nothing_to_check() -> None:
    read = json.loads(schema_change(9, 1, retyped_total_price("numeric(14,4)")))
    read.update(op="r", transaction=None)
    work = MartsAssembly("shop", TABLES, released_lsn=-1).take(
        [message(0, json.dumps(read).encode(), topic=SCHEMA, partition=0)])
    assert work is not None and work.mark is not None and work.mark.pause is None and work.events == []


def renamed_quantity() -> CatalogTable:
    definition = catalog_of(SOURCE["order_details"])
    return replace(definition, columns=tuple(replace(c, name="qty") if c.name == "quantity" else c
                                             for c in definition.columns))


def line_change(xid: int, order: int, quantity_column: str) -> bytes:
    line = {"order_detail_id": 4, "order_id": 7, "product_id": 2, quantity_column: 3, "price_per_unit": "1.00",
            "total_price": "3.00"}
    return json.dumps({"op": "c", "before": None, "after": line, "transaction": {"id": f"{xid}:1", "total_order": order},
                       "source": {"table": "order_details", "lsn": 700, "ts_ms": 1_700_000_000_300}}).encode()


LINES = "shop.public.order_details"


def test_changes_in_the_shape_the_marts_pause_at_are_never_dead_letters() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    # The DDL's transaction's lines (and a later one's) arrive before its END: in the new shape.
    first = assembly.take([message(3, line_change(9, 2, "qty"), topic=LINES),
                           message(4, line_change(10, 1, "qty"), topic=LINES)])
    assert first is None
    work = assembly.take([
        message(0, schema_change(9, 1, renamed_quantity()), topic=SCHEMA, partition=0),
        message(0, end_of(9, 800, cdc_schema_changes=1, order_details=1), topic=TX, partition=0),
        message(1, end_of(10, 900, order_details=1), topic=TX, partition=0),
    ])
    assert work is not None and work.mark is not None and work.mark.pause is not None
    assert work.mark.pause.what == "order_details.quantity renamed to qty"
    assert work.letters == [] and work.events == []


def test_a_change_that_cannot_be_decoded_counts_in_its_transaction_and_is_a_letter_once_released() -> None:
    assembly = MartsAssembly("shop", TABLES, released_lsn=-1)
    assert assembly.take([message(3, line_change(9, 1, "qty"), topic=LINES)]) is None
    work = assembly.take([message(5, change(xid=9, order=2)),
                          message(0, end_of(9, 800, order_details=1, orders=1), topic=TX, partition=0)])
    assert work is not None and work.mark is not None and work.mark.point is not None
    assert [e.position.offset for e in work.events] == [5]
    assert [(letter.raw.offset, letter.error) for letter in work.letters] == [
        (3, "order_details.quantity is missing or null")]
