"""core.source.catalog: a table definition as cdc_table_schema() writes it, read exactly."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.source.catalog import CatalogColumn, CatalogError, CatalogTable, catalog_of, parse_definition
from core.source.tables import TABLES

DEFINITION = """{"table": "orders", "primary_key": ["order_id"], "columns": [
  {"attnum": 1, "name": "order_id", "type": "bigint", "nullable": false,
   "default": "nextval('orders_order_id_seq'::regclass)", "has_missing": false, "missing": null},
  {"attnum": 3, "name": "fee", "type": "numeric(12,2)", "nullable": false, "default": "1.10",
   "has_missing": true, "missing": 1.10}]}"""


def test_a_definition_is_read_with_its_attribute_numbers_and_exact_missing_values() -> None:
    table = parse_definition(DEFINITION)
    assert table.name == "orders" and table.key == ("order_id",)
    assert table.columns[1] == CatalogColumn(3, "fee", "numeric(12,2)", False, "1.10", True, Decimal("1.10"))
    assert table.column(3) == table.columns[1] and table.column(2) is None


def test_the_stored_form_reads_back_equal() -> None:
    table = parse_definition(DEFINITION)
    assert parse_definition(table.to_json()) == table


@pytest.mark.parametrize("text", ["not json", '{"table": "t"}', '{"table": "t", "columns": [], "primary_key": []}',
                                  '{"table": "t", "primary_key": ["id"], "columns": [{"attnum": 1, "name": "x", '
                                  '"type": "text", "nullable": true}]}'])
def test_anything_else_is_a_catalog_error(text: str) -> None:
    with pytest.raises(CatalogError):
        parse_definition(text)


def test_the_shop_tables_are_described_as_the_catalog_spells_their_types() -> None:
    orders = catalog_of(TABLES["orders"])
    assert [(c.attnum, c.name, c.pg_type) for c in orders.columns][:3] == [
        (1, "order_id", "bigint"), (2, "user_id", "bigint"), (3, "order_date", "timestamp with time zone")]
    assert isinstance(orders, CatalogTable) and orders.key == ("order_id",)
