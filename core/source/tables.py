"""The five shop tables of the PostgreSQL source: names, columns, types, nullability, primary keys.

The one statement of the source's shape in Python, matching
core/source/migrations exactly (tests/unit/core/test_source_tables.py parses the
migrations and compares). Each stage derives its own view from it: the
replica's MySQL types (consumer.replica_schema), the generator's rows
(generator.tables), the topics consumed (core.topic_names).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class SourceColumn:
    name: str
    pg_type: str  # as the migration spells it: bigserial, bigint, integer, numeric(12,2), text, timestamptz, date
    nullable: bool = False
    primary_key: bool = False


@dataclass(frozen=True)
class SourceTable:
    name: str
    columns: tuple[SourceColumn, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def key(self) -> tuple[str, ...]:
        """The primary key's columns."""
        return tuple(column.name for column in self.columns if column.primary_key)


def _key(name: str) -> SourceColumn:
    return SourceColumn(name, "bigserial", primary_key=True)


def _column(name: str, pg_type: str, nullable: bool = False) -> SourceColumn:
    return SourceColumn(name, pg_type, nullable)


USERS = SourceTable("users", (
    _key("user_id"),
    _column("first_name", "text"),
    _column("last_name", "text"),
    _column("email", "text"),
    _column("phone", "text", nullable=True),
    _column("registration_date", "timestamptz"),
    _column("loyalty_status", "text"),
))
PRODUCT_CATEGORIES = SourceTable("product_categories", (
    _key("category_id"),
    _column("name", "text"),
    _column("parent_category_id", "bigint", nullable=True),
))
PRODUCTS = SourceTable("products", (
    _key("product_id"),
    _column("name", "text"),
    _column("description", "text", nullable=True),
    _column("category_id", "bigint"),
    _column("price", "numeric(12,2)"),
    _column("stock_quantity", "integer"),
    _column("creation_date", "timestamptz"),
))
ORDERS = SourceTable("orders", (
    _key("order_id"),
    _column("user_id", "bigint"),
    _column("order_date", "timestamptz"),
    _column("total_amount", "numeric(12,2)"),
    _column("status", "text"),
    _column("delivery_date", "date", nullable=True),
))
ORDER_DETAILS = SourceTable("order_details", (
    _key("order_detail_id"),
    _column("order_id", "bigint"),
    _column("product_id", "bigint"),
    _column("quantity", "integer"),
    _column("price_per_unit", "numeric(12,2)"),
    _column("total_price", "numeric(12,2)"),
))

# Parents before children: the order in which rows can be loaded.
TABLES: Mapping[str, SourceTable] = MappingProxyType(
    {table.name: table for table in (USERS, PRODUCT_CATEGORIES, PRODUCTS, ORDERS, ORDER_DETAILS)}
)
SOURCE_TABLES: tuple[str, ...] = tuple(TABLES)
