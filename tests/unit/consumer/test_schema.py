"""consumer.schema: what each new source definition of a table does to its replica table."""
from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from consumer.batch import Batch, SchemaStep
from consumer.envelope import ChangeEvent, decode
from consumer.replica_schema import StoredSchema, TableSpec
from consumer.schema import TableSchema, applied_version, evolve, recreate
from core.deadletter import RawMessage
from core.source.catalog import CatalogColumn, CatalogTable

KEY = CatalogColumn(1, "line_id", "bigint", False, "nextval('s'::regclass)")
QUANTITY = CatalogColumn(2, "quantity", "integer", False)
PRICE = CatalogColumn(3, "price", "numeric(12,2)", False)
NOTE = CatalogColumn(4, "note", "text", True)
LINES = CatalogTable("lines", (KEY, QUANTITY, PRICE, NOTE), ("line_id",))
CURRENT = TableSchema.first(1, LINES)


def changed(*columns: CatalogColumn, key: tuple[str, ...] = ("line_id",)) -> CatalogTable:
    return CatalogTable("lines", columns, key)


def test_an_added_nullable_column_is_added_and_earlier_rows_hold_null() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, CatalogColumn(5, "gift", "boolean", True)))
    assert evolution.alter == "ALTER TABLE `lines` ADD COLUMN `gift` BOOLEAN NULL, COMMENT = 'cdc schema version 2'"
    assert evolution.schema.spec.column_names == ("line_id", "quantity", "price", "note", "gift")
    assert dict(evolution.schema.spec.earlier.filled) == {"gift": None}


def test_an_added_column_with_a_default_gives_existing_rows_the_sources_value_in_the_alter() -> None:
    tier = CatalogColumn(5, "tier", "text", False, "'bronze'::text", has_missing=True, missing="bronze")
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, tier))
    assert evolution.alter == ("ALTER TABLE `lines` ADD COLUMN `tier` LONGTEXT NOT NULL DEFAULT ('bronze'), "
                               "COMMENT = 'cdc schema version 2'")
    assert dict(evolution.schema.spec.earlier.filled) == {"tier": "bronze"}


def test_an_added_numeric_default_is_exact() -> None:
    fee = CatalogColumn(5, "fee", "numeric(14,2)", False, "1.10", has_missing=True, missing=Decimal("1.10"))
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, fee))
    assert evolution.alter is not None and "ADD COLUMN `fee` DECIMAL(14,2) NOT NULL DEFAULT (1.10)" in evolution.alter
    assert evolution.schema.spec.earlier.filled["fee"] == Decimal("1.10")


def test_a_column_added_with_a_volatile_default_pauses_the_table() -> None:
    token = CatalogColumn(5, "token", "double precision", False, "random()")
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, token))
    assert evolution.alter is None
    assert evolution.schema.paused is not None and "paused at source schema change 2" in evolution.schema.paused


def test_a_volatile_default_of_a_supported_type_pauses_the_table_naming_it() -> None:
    token = CatalogColumn(5, "seen", "timestamp with time zone", False, "clock_timestamp()")
    paused = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, token)).schema.paused
    assert paused is not None and "volatile default (clock_timestamp())" in paused


def test_a_dropped_column_is_dropped_and_earlier_rows_ignore_it() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE))
    assert evolution.alter == "ALTER TABLE `lines` DROP COLUMN `note`, COMMENT = 'cdc schema version 2'"
    assert dict(evolution.schema.spec.earlier.sources) == {"line_id": "line_id", "quantity": "quantity",
                                                          "price": "price"}


def test_a_renamed_column_keeps_its_attribute_number_and_is_renamed() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, replace(NOTE, name="remark")))
    assert evolution.alter == ("ALTER TABLE `lines` CHANGE COLUMN `note` `remark` LONGTEXT NULL, "
                               "COMMENT = 'cdc schema version 2'")
    assert evolution.schema.spec.earlier.sources["remark"] == "note"


@pytest.mark.parametrize(("before", "after", "sql_type"), [
    (QUANTITY, replace(QUANTITY, pg_type="bigint"), "BIGINT"),
    (PRICE, replace(PRICE, pg_type="numeric(14,2)"), "DECIMAL(14,2)"),
    (PRICE, replace(PRICE, pg_type="numeric(13,3)"), "DECIMAL(13,3)"),
])
def test_a_widened_type_widens_the_replica_column(before: CatalogColumn, after: CatalogColumn, sql_type: str) -> None:
    columns = tuple(after if column == before else column for column in LINES.columns)
    evolution = evolve(CURRENT, 2, changed(*columns))
    assert evolution.alter == (f"ALTER TABLE `lines` CHANGE COLUMN `{after.name}` `{after.name}` {sql_type} NOT NULL, "
                               "COMMENT = 'cdc schema version 2'")


def test_a_character_type_to_another_changes_nothing_in_mysql() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, replace(NOTE, pg_type="character varying(40)")))
    assert evolution.alter is None and evolution.schema.paused is None and evolution.schema.version == 2


def test_a_column_made_nullable_becomes_nullable() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, replace(QUANTITY, nullable=True), PRICE, NOTE))
    assert evolution.alter == ("ALTER TABLE `lines` CHANGE COLUMN `quantity` `quantity` INT NULL, "
                               "COMMENT = 'cdc schema version 2'")


@pytest.mark.parametrize(("columns", "words"), [
    ((KEY, replace(QUANTITY, pg_type="smallint"), PRICE, NOTE), "integer -> smallint is not a widening"),
    ((KEY, QUANTITY, replace(PRICE, pg_type="numeric(12,3)"), NOTE), "numeric(12,2) -> numeric(12,3)"),
    ((KEY, replace(QUANTITY, pg_type="text"), PRICE, NOTE), "integer -> text"),
    ((KEY, QUANTITY, PRICE, NOTE, CatalogColumn(5, "doc", "jsonb", True)), "jsonb has no exact replica type"),
])
def test_an_incompatible_change_pauses_the_table_with_the_reason(columns: tuple[CatalogColumn, ...],
                                                                  words: str) -> None:
    evolution = evolve(CURRENT, 2, changed(*columns))
    assert evolution.alter is None  # the replica table stays as it was
    assert evolution.schema.paused is not None and words in evolution.schema.paused
    assert evolution.schema.definition == changed(*columns)  # the latest: a backfill recreates the table with it


def test_a_changed_primary_key_pauses_the_table() -> None:
    paused = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, key=("line_id", "quantity"))).schema.paused
    assert paused is not None and "primary key changed from (line_id) to (line_id, quantity)" in paused


def test_a_definition_already_applied_changes_nothing() -> None:
    assert evolve(CURRENT, 1, changed(KEY, QUANTITY, PRICE)).schema is CURRENT


def test_a_paused_table_stays_paused_and_keeps_the_latest_definition() -> None:
    paused = evolve(CURRENT, 2, changed(KEY, replace(QUANTITY, pg_type="smallint"), PRICE, NOTE)).schema
    later = evolve(paused, 3, LINES)
    assert later.alter is None and later.schema.paused == paused.paused
    assert (later.schema.version, later.schema.definition) == (3, LINES)


def test_a_backfill_recreates_a_paused_table_from_its_latest_definition() -> None:
    paused = evolve(CURRENT, 2, changed(KEY, replace(QUANTITY, pg_type="smallint"), PRICE, NOTE)).schema
    evolution = recreate(paused, "backfill-1")
    assert evolution is not None and evolution.schema.paused is None
    assert evolution.recreate is not None and "`quantity` SMALLINT NOT NULL" in evolution.recreate
    assert evolution.recreate.endswith("COMMENT = 'cdc schema version 2, recreated by backfill-1'")
    assert applied_version("cdc schema version 2, recreated by backfill-1") == 2


def test_a_backfill_of_a_table_that_is_not_paused_recreates_nothing() -> None:
    assert recreate(CURRENT, "backfill-1") is None


def test_a_paused_table_whose_latest_definition_has_no_replica_type_is_not_recreated() -> None:
    paused = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, CatalogColumn(5, "doc", "jsonb", True))).schema
    assert recreate(paused, "backfill-1") is None


def test_the_stored_form_reads_back_to_the_same_table() -> None:
    evolved = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, CatalogColumn(5, "gift", "boolean", True))).schema
    again = TableSchema.from_stored(evolved.stored())
    assert (again.version, again.definition, again.spec, again.paused) == (2, evolved.definition, evolved.spec, None)


def test_the_applied_version_is_read_from_the_table_comment() -> None:
    assert applied_version("cdc schema version 17") == 17
    assert applied_version("") is None and applied_version(None) is None and applied_version("mine") is None


def test_a_column_dropped_and_added_again_under_its_name_is_a_new_column() -> None:
    price = CatalogColumn(5, "price", "numeric(14,2)", False, "0", has_missing=True, missing=Decimal("0"))
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, NOTE, price))
    assert evolution.alter == ("ALTER TABLE `lines` DROP COLUMN `price`, ADD COLUMN `price` DECIMAL(14,2) NOT NULL "
                               "DEFAULT (0), COMMENT = 'cdc schema version 2'")
    assert evolution.schema.spec.earlier.sources["price"] is None
    assert evolution.schema.spec.earlier.filled["price"] == Decimal("0")


def change_of(row: dict[str, object]) -> ChangeEvent:
    value = json.dumps({"op": "u", "before": None, "after": row, "source": {"table": "lines", "lsn": 10}})
    raw = RawMessage("t.public.lines", 0, 0, b'{"line_id":7}', value.encode())
    decoded = decode(raw, {"t.public.lines": CURRENT.spec})
    assert isinstance(decoded, ChangeEvent), decoded
    return decoded


def test_rows_held_from_before_a_schema_change_are_mapped_onto_the_new_table_by_attribute_number() -> None:
    tier = CatalogColumn(5, "tier", "text", False, "'a'::text", has_missing=True, missing="a")
    new = evolve(CURRENT, 2, changed(KEY, QUANTITY, replace(PRICE, name="unit_price"), tier))
    batch = Batch(specs={"lines": CURRENT.spec})
    batch.add(change_of({"line_id": 7, "quantity": 2, "price": "3.50", "note": None}))
    batch.evolve(SchemaStep("lines", 2, new.alter, new.schema.stored()), new.schema.spec)
    assert [action.event.row for action in batch.tables["lines"].actions.values()] == [(7, 2, Decimal("3.50"), "a")]
    assert batch.specs["lines"] is new.schema.spec and [step.version for step in batch.schema_steps] == [2]


def test_an_added_identity_column_pauses_the_table() -> None:
    rank = CatalogColumn(5, "rank", "bigint", False, identity=True)
    paused = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, rank)).schema.paused
    assert paused is not None and "added identity column rank" in paused


def test_an_added_generated_column_pauses_the_table() -> None:
    total = CatalogColumn(5, "total", "numeric(12,2)", True, "(price * quantity)", generated=True)
    paused = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, total)).schema.paused
    assert paused is not None and "generated column" in paused


def test_a_type_change_with_a_using_expression_pauses_the_table() -> None:
    statement = "ALTER TABLE lines ALTER COLUMN quantity TYPE bigint USING quantity * 100"
    evolution = evolve(CURRENT, 2, changed(KEY, replace(QUANTITY, pg_type="bigint"), PRICE, NOTE), statement)
    assert evolution.schema.paused is not None and "with a USING expression" in evolution.schema.paused


def test_a_change_from_a_blank_padded_type_pauses_the_table() -> None:
    padded = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, replace(NOTE, pg_type="character(10)"))).schema
    assert padded.paused is not None and "trailing blanks" in padded.paused


def test_a_column_made_not_null_is_tightened_after_the_rows_of_its_transaction_are_in() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, replace(NOTE, nullable=False)))
    assert evolution.alter is None
    assert evolution.tighten == "ALTER TABLE `lines` MODIFY COLUMN `note` LONGTEXT NOT NULL"


def test_a_not_null_column_added_without_a_default_is_added_nullable_then_tightened() -> None:
    evolution = evolve(CURRENT, 2, changed(KEY, QUANTITY, PRICE, NOTE, CatalogColumn(5, "code", "integer", False)))
    assert evolution.alter == "ALTER TABLE `lines` ADD COLUMN `code` INT NULL, COMMENT = 'cdc schema version 2'"
    assert evolution.tighten == "ALTER TABLE `lines` MODIFY COLUMN `code` INT NOT NULL"


def test_a_table_dropped_and_created_again_under_its_name_pauses() -> None:
    first = TableSchema.first(1, replace(LINES, oid=100))
    paused = evolve(first, 2, replace(LINES, oid=200)).schema.paused
    assert paused is not None and "dropped and created again" in paused


@pytest.mark.parametrize("name", ["user_activity", "Sales_By_Category", "cdc_watermark", "mart_offsets",
                                  "cdc_replica_schemas", "replica_topics", "MART_future_table"])
def test_a_table_named_like_one_of_the_pipelines_own_mysql_tables_pauses_instead_of_replacing_it(name: str) -> None:
    schema = TableSchema.first(3, replace(LINES, name=name))
    assert schema.paused is not None
    assert f"table {name} paused at source schema change 3: its name is that of the pipeline's own MySQL table" \
        in schema.paused
    assert schema.spec.columns == ()  # no replica table is made


def test_a_backfill_does_not_make_a_paused_table_named_like_one_of_the_pipelines_own() -> None:
    # Paused for another reason (a change that did not fit), as an earlier version could have left it.
    paused = TableSchema(3, replace(LINES, name="user_activity"), TableSpec("user_activity", (), ()), "unfit")
    assert recreate(paused, "signal-1") is None


def test_a_table_replicated_under_a_name_of_the_pipelines_own_by_an_earlier_version_is_paused_at_start() -> None:
    # As an earlier version stored it: replicated, not paused.
    restored = TableSchema.from_stored(StoredSchema("user_activity", 3, replace(LINES, name="user_activity").to_json(),
                                                    None))
    assert restored.paused is not None and "an earlier version made the replica table in its place" in restored.paused
    assert restored.spec.columns == ()
