"""marts.source_fit: which new source definitions the marts decode exactly, and what a misfit says."""
from __future__ import annotations

from dataclasses import replace

from core.source.catalog import CatalogColumn, CatalogTable, catalog_of
from core.source.tables import TABLES
from marts.source_fit import Misfit, SourceShapes


def shop(table: str) -> CatalogTable:
    return catalog_of(TABLES[table])


def changed(table: str, column: str, **fields: object) -> CatalogTable:
    """The shop table with one column's fields replaced."""
    definition = shop(table)
    columns = tuple(replace(c, **fields) if c.name == column else c for c in definition.columns)  # type: ignore[arg-type]
    return replace(definition, columns=columns)


def without(table: str, column: str) -> CatalogTable:
    definition = shop(table)
    return replace(definition, columns=tuple(c for c in definition.columns if c.name != column))


def check(definition: CatalogTable) -> tuple[Misfit, ...]:
    return SourceShapes().check(definition)


def test_same_family_widenings_of_columns_the_marts_read_fit() -> None:
    assert check(changed("order_details", "quantity", pg_type="bigint")) == ()
    assert check(changed("order_details", "total_price", pg_type="numeric(14,2)")) == ()
    assert check(changed("orders", "total_amount", pg_type="numeric(13,1)")) == ()
    assert check(changed("users", "first_name", pg_type="character varying(80)")) == ()
    assert check(changed("orders", "status", pg_type="character varying")) == ()


def test_an_added_column_and_changes_of_columns_the_marts_do_not_read_fit() -> None:
    added = shop("products")
    added = replace(added, columns=(*added.columns, CatalogColumn(8, "x", "text", True)))
    assert check(added) == ()
    assert check(without("order_details", "price_per_unit")) == ()
    assert check(changed("products", "price", pg_type="jsonb", nullable=True)) == ()
    assert check(changed("users", "phone", name="mobile")) == ()


def test_a_table_the_marts_do_not_read_is_not_looked_at() -> None:
    assert check(CatalogTable("coupons", (CatalogColumn(1, "code", "text", False),), ("code",))) == ()


def test_a_renamed_column_the_marts_read_is_a_misfit_named_by_its_new_name() -> None:
    assert check(changed("order_details", "quantity", name="qty")) == (
        Misfit("order_details", "quantity", "renamed to qty"),)


def test_a_dropped_column_the_marts_read_is_a_misfit() -> None:
    assert check(without("orders", "status")) == (Misfit("orders", "status", "dropped"),)


def test_a_type_the_state_does_not_hold_exactly_is_a_misfit_naming_both_types() -> None:
    (misfit,) = check(changed("order_details", "total_price", pg_type="numeric(14,4)"))
    assert (misfit.table, misfit.column) == ("order_details", "total_price")
    assert misfit.change.startswith("type numeric(12,2) -> numeric(14,4) (the marts keep it as DECIMAL(14,2)")
    assert len(check(changed("order_details", "total_price", pg_type="numeric(16,2)"))) == 1
    assert len(check(changed("order_details", "total_price", pg_type="numeric"))) == 1


def test_a_change_to_another_type_family_is_a_misfit() -> None:
    assert [str(m) for m in check(changed("order_details", "quantity", pg_type="numeric(10,0)"))] == [
        "order_details.quantity type integer -> numeric(10,0) "
        "(the marts read it as an integer: smallint, integer or bigint)"]
    assert len(check(changed("product_categories", "name", pg_type="character(40)"))) == 1


def test_a_column_the_marts_read_made_nullable_is_a_misfit() -> None:
    assert check(changed("products", "category_id", nullable=True)) == (
        Misfit("products", "category_id", "made nullable (DROP NOT NULL): the marts count every row with a value"),)


def test_a_primary_key_other_than_the_state_tables_key_is_a_misfit() -> None:
    definition = replace(shop("order_details"), key=("order_id", "order_detail_id"))
    assert [m.column for m in check(definition)] == ["order_detail_id"]


def test_a_change_is_named_against_the_tables_latest_definition() -> None:
    shapes = SourceShapes()
    assert shapes.check(changed("order_details", "quantity", pg_type="bigint")) == ()
    (misfit,) = shapes.check(changed("order_details", "quantity", pg_type="numeric(20,0)"))
    assert misfit.change.startswith("type bigint -> numeric(20,0)")
