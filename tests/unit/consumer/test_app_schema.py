"""The Replicator follows source schema changes in commit order (consumer.schema), without a broker or MySQL:
hand-made Debezium messages go through its decode-and-assemble path into the batch it would write."""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from consumer import app
from consumer.batch import Batch
from consumer.envelope import Key, Row
from consumer.replica_schema import StoredSchema
from consumer.schema import TableSchema
from core.deadletter import RawMessage
from core.source.catalog import CatalogColumn, CatalogTable, catalog_of
from core.source.tables import TABLES
from tests.support.debezium import Change, Message, backfill_read, snapshot_read, transaction
from tests.unit.consumer.test_app import BASE, RecordedGenerationChecks, replicator_of

USERS = catalog_of(TABLES["users"])
ORDERS = catalog_of(TABLES["orders"])


def upserts_of(batch: Batch, table: str) -> list[tuple[Key, Row]]:
    """The key and row of each upsert the batch holds for the table, in its order (the test fails on anything else)."""
    upserts = []
    for action in batch.tables[table].actions.values():
        key, row = action.event.key, action.event.row
        assert key is not None and row is not None, action
        upserts.append((key, row))
    return upserts


def with_column(table: CatalogTable, column: CatalogColumn) -> CatalogTable:
    return CatalogTable(table.name, (*table.columns, column), table.key)


def user(user_id: int, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "first_name": "Ada", "last_name": "L", "email": f"u{user_id}@x.org", "phone": None,
            "registration_date": "2026-01-01T00:00:00Z", "loyalty_status": "bronze", **extra}


def order(order_id: int) -> dict[str, Any]:
    return {"order_id": order_id, "user_id": 1, "order_date": "2026-01-01T00:00:00Z", "total_amount": "5.00",
            "status": "pending", "delivery_date": None}


def new_user(user_id: int, **extra: Any) -> Change:
    return Change("users", "c", {"user_id": user_id}, user(user_id, **extra), 0)


def schema_change(version: int, definition: CatalogTable, command: str = "ALTER TABLE") -> Change:
    row = {"id": version, "table_name": definition.name, "command": command,
           "definition": definition.to_json(), "captured_at": "2026-01-01T00:00:00Z"}
    return Change("cdc_schema_changes", "c", {"id": version}, row, 0)


class RecordedHistory:
    """consumer.schema_history.snapshot_publications as the schema-changes topic would answer: the tables added to
    the publication that the initial snapshot read, with their definitions."""

    def __init__(self, snapshotted: dict[str, tuple[int, CatalogTable]]) -> None:
        self.snapshotted = snapshotted
        self.reads = 0

    def __call__(self, bootstrap: str, topic: str) -> dict[str, tuple[int, CatalogTable]]:
        self.reads += 1
        return dict(self.snapshotted)


@contextmanager
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[app.Replicator]:
    """A replicator as after its start: the shop tables' definitions as the migrations create them (version 1), on
    topics whose initial snapshot read no table added to the publication (see `snapshotted`)."""
    if not isinstance(app.snapshot_publications, RecordedHistory):
        monkeypatch.setattr(app, "snapshot_publications", RecordedHistory({}))
    with replicator_of(BASE, monkeypatch) as replicator:
        replicator.applied_schemas = {name: TableSchema.first(1, catalog_of(table)) for name, table in TABLES.items()}
        replicator._use_applied_schemas()
        replicator.batch = replicator._new_batch()
        yield replicator


class Feed:
    """Takes hand-made messages as if consumed, each partition's offsets counting up."""

    def __init__(self, replicator: app.Replicator) -> None:
        self.replicator = replicator
        self.offsets: dict[tuple[str, int], Iterator[int]] = {}

    def __call__(self, *messages: Message) -> None:
        for message in messages:
            topic = f"shop.{message.collection}"
            offset = next(self.offsets.setdefault((topic, message.partition), itertools.count()))
            self.replicator._take_raw(RawMessage(topic, message.partition, offset, message.key, message.value))


def test_a_change_read_before_the_schema_change_it_follows_is_decoded_for_the_new_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    alter = transaction(100, 1_000, [schema_change(2, with_column(USERS, CatalogColumn(8, "nickname", "text", True)))])
    insert = transaction(101, 2_000, [new_user(7, nickname="neo")])
    with started(monkeypatch) as replicator:
        feed = Feed(replicator)
        feed(*insert.events(), *alter.events(), alter.end(), insert.end())
        batch = replicator.batch
        assert [step.alter for step in batch.schema_steps] == [
            "ALTER TABLE `users` ADD COLUMN `nickname` LONGTEXT NULL, COMMENT = 'cdc schema version 2'"]
        assert [row[-1] for _, row in upserts_of(batch, "users")] == ["neo"]
        assert batch.specs["users"].column_names[-1] == "nickname" and batch.dead_letters == []


TIER = CatalogColumn(8, "tier", "text", False, "'gold'::text", has_missing=True, missing="gold")


def test_what_came_before_a_schema_change_is_a_batch_of_its_own_written_first_to_the_table_as_it_was(
        monkeypatch: pytest.MonkeyPatch) -> None:
    insert = transaction(100, 1_000, [new_user(7)])
    alter = transaction(101, 2_000, [schema_change(2, with_column(USERS, TIER))])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*insert.whole(), *alter.whole())
        [before] = replicator.ready
        assert [len(row) for _, row in upserts_of(before, "users")] == [7]
        assert before.schema_steps == [] and before.offsets == {}  # the next batch commits the offsets
        assert replicator.batch.schema_steps[0].alter == (
            "ALTER TABLE `users` ADD COLUMN `tier` LONGTEXT NOT NULL DEFAULT ('gold'), "
            "COMMENT = 'cdc schema version 2'")


def test_rows_of_the_ddls_own_transaction_from_before_it_get_the_added_columns_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    both = transaction(100, 1_000, [new_user(7), schema_change(2, with_column(USERS, TIER)), new_user(8, tier="x")])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*both.whole())
        rows = {key: row[-1] for key, row in upserts_of(replicator.batch, "users")}
        assert rows == {(7,): "gold", (8,): "x"} and not replicator.ready


def test_a_change_that_fits_no_known_definition_pauses_its_table_and_the_others_go_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    mixed = transaction(100, 1_000, [new_user(7, mystery=1), Change("orders", "c", {"order_id": 3}, order(3), 0)])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*mixed.whole())
        batch = replicator.batch
        assert replicator.paused == {"shop.public.users"}
        assert list(batch.tables) == ["orders"] and batch.dead_letters == []
        reason = batch.schema_steps[0].stored.paused
        assert reason is not None and "columns the replica table users does not: mystery" in reason
        assert replicator.stats.paused_tables == {"users": reason}


def test_an_incompatible_change_pauses_the_table_and_its_later_changes_are_not_applied(
        monkeypatch: pytest.MonkeyPatch) -> None:
    narrowed = CatalogTable("users", tuple(
        CatalogColumn(c.attnum, c.name, "integer" if c.name == "loyalty_status" else c.pg_type, c.nullable)
        for c in USERS.columns), USERS.key)
    alter = transaction(100, 1_000, [schema_change(2, narrowed)])
    insert = transaction(101, 2_000, [new_user(7), Change("orders", "c", {"order_id": 3}, order(3), 0)])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*alter.whole(), *insert.whole())
        assert "text -> integer is not a widening" in replicator.stats.paused_tables["users"]
        assert list(replicator.batch.tables) == ["orders"]
        assert replicator.batch.schema_steps[0].alter is None


def test_abandoned_batches_are_read_again_with_the_committed_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    alter = transaction(100, 1_000, [schema_change(2, with_column(USERS, CatalogColumn(8, "nickname", "text", True)))])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*alter.whole())
        assert replicator.tables["shop.public.users"].column_names[-1] == "nickname"
        replicator._abandon("lost")
        assert replicator.tables["shop.public.users"].column_names[-1] == "loyalty_status"
        assert replicator.batch.schema_steps == []


def backfill_signal(tables: list[str]) -> Change:
    row = {"id": "backfill-9", "type": "execute-snapshot",
           "data": json.dumps({"data-collections": [f"public.{table}" for table in tables], "type": "incremental"})}
    return Change("cdc_signals", "c", {"id": "backfill-9"}, row, 0)


def test_a_backfill_of_a_paused_table_makes_it_anew_and_its_later_changes_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    narrowed = CatalogTable("users", tuple(
        CatalogColumn(c.attnum, c.name, "integer" if c.name == "loyalty_status" else c.pg_type, c.nullable)
        for c in USERS.columns), USERS.key)
    alter = transaction(100, 1_000, [schema_change(2, narrowed)])
    signal = transaction(101, 2_000, [backfill_signal(["users"])])
    insert = transaction(102, 3_000, [new_user(7, loyalty_status=3)])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*alter.whole(), *signal.whole(), *insert.whole())
        [step] = replicator.batch.schema_steps
        assert step.recreate is not None and "`loyalty_status` INT NOT NULL" in step.recreate
        assert step.marker == "cdc schema version 2, recreated by backfill-9" and step.stored.paused is None
        assert replicator.paused == set() and "users" not in replicator.stats.paused_tables
        assert [row[-1] for _, row in upserts_of(replicator.batch, "users")] == [3]


def test_a_replicated_table_renamed_away_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    with started(monkeypatch) as replicator:
        users = replicator.applied_schemas["users"]
        replicator.applied_schemas["users"] = TableSchema(1, replace(users.definition, oid=4242), users.spec)
        replicator._use_applied_schemas()
        renamed = replace(USERS, name="customers", oid=4242)
        Feed(replicator)(*transaction(100, 1_000, [schema_change(2, renamed)]).whole())
        assert "the source renamed it to customers" in replicator.stats.paused_tables["users"]


COUPONS = CatalogTable("coupons", (CatalogColumn(1, "coupon_id", "bigint", False),
                                   CatalogColumn(2, "code", "text", False)), ("coupon_id",), oid=5151)


def coupon(coupon_id: int, op: str = "c") -> Change:
    return Change("coupons", op, {"coupon_id": coupon_id}, {"coupon_id": coupon_id, "code": f"C{coupon_id}"}, 0)


def test_a_table_added_to_the_publication_is_made_at_that_point_and_its_changes_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    published = transaction(100, 1_000, [schema_change(9, COUPONS, "ALTER PUBLICATION"), coupon(1, "u")])
    later = transaction(101, 2_000, [coupon(2)])
    with started(monkeypatch) as replicator:
        Feed(replicator)(*published.events(), *later.events(), published.end(), later.end())
        batch = replicator.batch
        [step] = batch.schema_steps
        assert step.recreate is not None and step.recreate.startswith("CREATE TABLE IF NOT EXISTS `coupons`")
        assert step.marker == "cdc schema version 9, added to the publication"
        assert sorted(key for key, _ in upserts_of(batch, "coupons")) == [(1,), (2,)]
        assert batch.dead_letters == [] and replicator.topic_of_table["coupons"] == "shop.public.coupons"


def test_the_topic_of_a_table_added_to_the_publication_has_its_generation_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with started(monkeypatch) as replicator:
        Feed(replicator)(*transaction(100, 1_000, [schema_change(9, COUPONS, "ALTER PUBLICATION")]).whole())
        replicator._check_generations()
    assert RecordedGenerationChecks.topics == [sorted([*replicator.settings.consumed_topics(), "shop.public.coupons"])]


def test_a_backfill_read_of_a_table_read_before_its_publication_is_released_waits_for_it_and_applies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    published = transaction(100, 1_000, [schema_change(9, COUPONS, "ALTER PUBLICATION")])
    window_mark = transaction(101, 2_000, [new_user(7)])
    with started(monkeypatch) as replicator:
        Feed(replicator)(backfill_read(coupon(3), lsn=1_500), *published.whole(), *window_mark.whole())
        batches = [*replicator.ready, replicator.batch]
        assert [action.event.key for batch in batches if "coupons" in batch.tables
                for action in batch.tables["coupons"].actions.values()] == [(3,)]
        assert [letter for batch in batches for letter in batch.dead_letters] == []


@contextmanager
def snapshotted(monkeypatch: pytest.MonkeyPatch, tables: dict[str, tuple[int, CatalogTable]]
                ) -> Iterator[tuple[app.Replicator, RecordedHistory]]:
    """A started replicator whose schema-changes topic holds the initial snapshot's additions `tables`."""
    history = RecordedHistory(tables)
    monkeypatch.setattr(app, "snapshot_publications", history)
    with started(monkeypatch) as replicator:
        yield replicator, history


def test_a_table_the_initial_snapshot_read_is_made_from_the_snapshots_definition_and_its_reads_apply(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with snapshotted(monkeypatch, {"coupons": (9, COUPONS)}) as (replicator, _):
        Feed(replicator)(snapshot_read(coupon(1)), snapshot_read(coupon(2)))
        batch = replicator.batch
        [step] = batch.schema_steps
        assert step.recreate is not None and step.recreate.startswith("CREATE TABLE IF NOT EXISTS `coupons`")
        assert step.marker is not None and step.marker.startswith("cdc schema version 9, read by the initial snapshot")
        assert sorted(key for key, _ in upserts_of(batch, "coupons")) == [(1,), (2,)]
        assert batch.dead_letters == [] and replicator.topic_of_table["coupons"] == "shop.public.coupons"


def test_a_table_the_initial_snapshot_read_empty_is_made_at_its_first_change(monkeypatch: pytest.MonkeyPatch) -> None:
    with snapshotted(monkeypatch, {"coupons": (9, COUPONS)}) as (replicator, _):
        Feed(replicator)(*transaction(100, 1_000, [coupon(1)]).whole())
        assert [key for key, _ in upserts_of(replicator.batch, "coupons")] == [(1,)]
        assert replicator.batch.dead_letters == []


def test_an_alter_of_a_snapshotted_table_before_its_first_change_applies_once_the_table_is_made(
        monkeypatch: pytest.MonkeyPatch) -> None:
    widened = with_column(COUPONS, CatalogColumn(3, "note", "text", True))
    alter = transaction(100, 1_000, [schema_change(12, widened)])
    insert = transaction(101, 2_000, [Change("coupons", "c", {"coupon_id": 1},
                                             {"coupon_id": 1, "code": "C1", "note": "hi"}, 0)])
    with snapshotted(monkeypatch, {"coupons": (9, COUPONS)}) as (replicator, _):
        Feed(replicator)(*alter.whole(), *insert.whole())
        batches = [*replicator.ready, replicator.batch]
        steps = [step for batch in batches for step in batch.schema_steps]
        assert [(step.version, step.recreate is not None, step.alter is not None) for step in steps] == [
            (9, True, False), (12, False, True)]
        assert upserts_of(replicator.batch, "coupons") == [((1,), (1, "C1", "hi"))]
        assert [letter for batch in batches for letter in batch.dead_letters] == []


def test_a_table_the_initial_snapshot_did_not_read_gets_no_replica_table_and_is_looked_up_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with snapshotted(monkeypatch, {}) as (replicator, history):
        Feed(replicator)(*transaction(100, 1_000, [coupon(1)]).whole(), *transaction(101, 2_000, [coupon(2)]).whole())
        assert len(replicator.batch.dead_letters) == 2 and "coupons" not in replicator.schemas
    assert history.reads == 1


def test_a_snapshotted_table_the_replica_cannot_hold_is_paused_once_and_its_reads_skipped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    keyless = CatalogTable("coupons", COUPONS.columns, ())
    with snapshotted(monkeypatch, {"coupons": (9, keyless)}) as (replicator, history):
        Feed(replicator)(snapshot_read(coupon(1)), snapshot_read(coupon(2)), snapshot_read(coupon(3)))
        assert replicator.schemas["coupons"].paused is not None and replicator.batch.dead_letters == []
    assert history.reads == 1


def test_a_table_adopted_but_abandoned_before_its_commit_is_adopted_again_when_read_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads = (snapshot_read(coupon(1)), snapshot_read(coupon(2)))
    with snapshotted(monkeypatch, {"coupons": (9, COUPONS)}) as (replicator, history):
        Feed(replicator)(*reads)
        replicator._abandon("partitions lost")
        Feed(replicator)(*reads)
        assert sorted(key for key, _ in upserts_of(replicator.batch, "coupons")) == [(1,), (2,)]
        assert replicator.batch.dead_letters == []
    assert history.reads == 2


def test_a_table_added_to_the_publication_in_the_same_transaction_is_not_looked_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    published = transaction(100, 1_000, [schema_change(9, COUPONS, "ALTER PUBLICATION"), coupon(1, "u")])
    with snapshotted(monkeypatch, {"coupons": (3, COUPONS)}) as (replicator, history):
        Feed(replicator)(*published.whole())
        assert [step.marker for step in replicator.batch.schema_steps] == [
            "cdc schema version 9, added to the publication"]
    assert history.reads == 0


def test_an_alter_of_a_table_created_again_under_a_snapshotted_tables_name_makes_no_replica_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    other = replace(with_column(COUPONS, CatalogColumn(3, "note", "text", True)), oid=7777)
    with snapshotted(monkeypatch, {"coupons": (9, COUPONS)}) as (replicator, history):
        Feed(replicator)(*transaction(100, 1_000, [schema_change(12, other)]).whole())
        assert "coupons" not in replicator.schemas and replicator.batch.schema_steps == []
    assert history.reads == 1


def test_a_table_created_but_not_published_gets_no_replica_table(monkeypatch: pytest.MonkeyPatch) -> None:
    with started(monkeypatch) as replicator:
        Feed(replicator)(*transaction(100, 1_000, [schema_change(9, COUPONS, "CREATE TABLE")]).whole())
        assert replicator.batch.schema_steps == [] and "coupons" not in replicator.schemas


def test_a_table_an_earlier_version_replicated_under_a_marts_name_is_stored_paused_at_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    shop = {name: TableSchema.first(1, catalog_of(table)).stored() for name, table in TABLES.items()}
    # As an earlier version stored it: replicated, not paused.
    activity = StoredSchema("user_activity", 4, replace(COUPONS, name="user_activity").to_json(), None)
    stored_at_start: list[Any] = []
    with replicator_of(BASE, monkeypatch) as replicator:
        monkeypatch.setattr(replicator.sink, "loose_offsets", lambda: {})
        monkeypatch.setattr(replicator.sink, "start_tables", lambda specs, first: stored_at_start.extend(first))
        replicator._replicate("user_activity")
        replicator._load_schemas(threading.Event(), {**shop, "user_activity": activity})
        assert [(stored.table, stored.paused is not None) for stored in stored_at_start] == [("user_activity", True)]
        assert "shop.public.user_activity" in replicator.paused
