"""The five shop tables as the generator sees them: name, primary key, columns (core.source.tables)."""
from __future__ import annotations

from dataclasses import dataclass

from core.source import tables as catalog
from generator.model import CategoryRow, LineRow, OrderRow, ProductRow, UserRow


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: tuple[str, ...]

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)


def _table(source: catalog.SourceTable, row_fields: tuple[str, ...]) -> Table:
    """The generator's view of `source`, whose rows the model builds as NamedTuples of `row_fields`."""
    if row_fields != source.column_names:
        raise TypeError(f"the model's rows of {source.name} have fields {row_fields}, "
                        f"but the table has columns {source.column_names}")
    (key,) = source.key
    return Table(source.name, key, source.column_names)


USERS = _table(catalog.USERS, UserRow._fields)
CATEGORIES = _table(catalog.PRODUCT_CATEGORIES, CategoryRow._fields)
PRODUCTS = _table(catalog.PRODUCTS, ProductRow._fields)
ORDERS = _table(catalog.ORDERS, OrderRow._fields)
LINES = _table(catalog.ORDER_DETAILS, LineRow._fields)

# The catalog's order: parents before children, the order in which rows can be loaded.
ALL_TABLES = (USERS, CATEGORIES, PRODUCTS, ORDERS, LINES)
