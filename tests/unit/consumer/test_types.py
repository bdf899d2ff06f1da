"""Debezium JSON values -> exact MySQL parameter values."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from consumer.types import Column, Kind, ValueConversionError, row_reader


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (Kind.DECIMAL, "1234567890.12", Decimal("1234567890.12")),
    (Kind.DECIMAL, "-0.01", Decimal("-0.01")),
    (Kind.DECIMAL, "0.00", Decimal("0.00")),
    (Kind.TIMESTAMP, "2024-03-30T23:30:00.123456Z", datetime(2024, 3, 30, 23, 30, 0, 123456)),
    (Kind.TIMESTAMP, "2024-03-30T23:30:00Z", datetime(2024, 3, 30, 23, 30)),
    (Kind.TIMESTAMP, "2024-03-30T23:30:00.5Z", datetime(2024, 3, 30, 23, 30, 0, 500000)),
    (Kind.TIMESTAMP, "9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999)),
    (Kind.TIMESTAMP, "1000-01-01T00:00:00Z", datetime(1000, 1, 1)),
    (Kind.DATE, 1, date(1970, 1, 2)),
    (Kind.DATE, -1, date(1969, 12, 31)),
    (Kind.BIGINT, 9223372036854775807, 9223372036854775807),
    (Kind.TEXT, "", ""),
    (Kind.TEXT, "Zoë 🚀", "Zoë 🚀"),
])
def test_converts_exactly(kind: Kind, value: object, expected: object) -> None:
    result = Column("c", kind).convert(value)
    assert result == expected and type(result) is type(expected)


def test_null_only_where_nullable() -> None:
    assert Column("phone", Kind.TEXT, nullable=True).convert(None) is None
    with pytest.raises(ValueConversionError, match="phone is NOT NULL"):
        Column("phone", Kind.TEXT).convert(None)


@pytest.mark.parametrize(("kind", "value", "message"), [
    (Kind.DECIMAL, 12.5, "decimal string"),
    (Kind.DECIMAL, "1e5", "decimal string"),
    (Kind.DECIMAL, ["12.50"], "decimal string"),
    (Kind.BIGINT, "5", "integer"),
    (Kind.BIGINT, True, "integer"),
    (Kind.TEXT, 5, "string"),
    (Kind.TIMESTAMP, "2024-03-30 23:30:00", "UTC timestamp"),
    (Kind.TIMESTAMP, "2024-02-30T00:00:00Z", "invalid timestamp"),
    (Kind.TIMESTAMP, "2024-03-30T23:30:00.1234567Z", "at most microseconds"),
    (Kind.TIMESTAMP, "2024-03-30T23:30:00.Z", "at most microseconds"),
    (Kind.TIMESTAMP, "2024-03-30T23:30:00+01:00Z", "at most microseconds"),
    (Kind.TIMESTAMP, "2024-03-30T23:30+05.123456Z", "ending in Z"),
    (Kind.TIMESTAMP, "20240330T233000.123456Z", "UTC timestamp"),
    (Kind.TIMESTAMP, "0001-01-01T00:00:00Z", "outside the MySQL/MariaDB DATE/DATETIME range"),
    (Kind.TIMESTAMP, "0999-12-31T23:59:59.999999Z", "outside"),
    (Kind.DATE, -719162, "outside"),  # 0001-01-01
    (Kind.DATE, 10**9, "outside"),
])
def test_rejects_values_without_an_exact_mysql_counterpart(kind: Kind, value: object, message: str) -> None:
    with pytest.raises(ValueConversionError, match=message):
        Column("c", kind).convert(value)


@pytest.mark.parametrize(("kind", "value", "expected"), [
    (Kind.TIMESTAMP, "2024-01-01T10:00:00.5+02:00", datetime(2024, 1, 1, 8, 0, 0, 500000)),
    (Kind.TIMESTAMP, "2024-01-01T00:00:00+00:00", datetime(2024, 1, 1)),
    (Kind.DATE, "2024-01-02", date(2024, 1, 2)),
    (Kind.DECIMAL, Decimal("12.50"), Decimal("12.50")),
    (Kind.DECIMAL, 7, Decimal("7")),
    (Kind.BOOLEAN, False, False),
    (Kind.TEXT, "bronze", "bronze"),
])
def test_a_value_as_postgresql_to_json_writes_it_converts_exactly(kind: Kind, value: object, expected: object) -> None:
    result = Column("c", kind).from_catalog_json(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(("kind", "value"), [(Kind.DATE, "infinity"), (Kind.DECIMAL, "NaN"), (Kind.DATE, "0099-01-01")])
def test_a_to_json_value_without_a_mysql_counterpart_is_a_conversion_error(kind: Kind, value: object) -> None:
    with pytest.raises(ValueConversionError):
        Column("c", kind).from_catalog_json(value)


def test_a_decimal_converted_before_converts_again_to_an_equal_value_and_a_refused_one_is_refused_again() -> None:
    price = Column("price", Kind.DECIMAL)
    assert [price.convert("12.50"), price.convert("12.50")] == [Decimal("12.50")] * 2
    for _ in range(2):
        with pytest.raises(ValueConversionError, match="decimal string"):
            price.convert("1e5")


ORDER_COLUMNS = (Column("order_id", Kind.BIGINT), Column("status", Kind.TEXT, nullable=True),
                 Column("total", Kind.DECIMAL), Column("delivery", Kind.DATE, nullable=True),
                 Column("gift", Kind.BOOLEAN, nullable=True), Column('it\'s "placed"', Kind.TIMESTAMP))


@pytest.mark.parametrize("row", [
    {"order_id": 5, "status": "paid", "total": "12.50", "delivery": 1, "gift": True,
     'it\'s "placed"': "2024-03-30T23:30:00Z"},
    {"order_id": 5, "status": None, "total": "0.00", "delivery": None, "gift": None,
     'it\'s "placed"': "2024-03-30T23:30:00.5Z"},
])
def test_a_row_reader_reads_the_columns_in_order_as_each_column_converts_them(row: dict[str, object]) -> None:
    assert row_reader(ORDER_COLUMNS)(row) == tuple(column.convert(row[column.name]) for column in ORDER_COLUMNS)


def test_a_row_reader_raises_key_error_for_a_missing_column() -> None:
    with pytest.raises(KeyError):
        row_reader(ORDER_COLUMNS)({"order_id": 5})


@pytest.mark.parametrize(("column", "value"), [
    ("order_id", None), ("order_id", "5"), ("status", 5), ("total", None), ("gift", 1), ('it\'s "placed"', None),
])
def test_a_row_reader_raises_a_conversion_error_for_a_value_its_column_refuses(column: str, value: object) -> None:
    row = {"order_id": 5, "status": "paid", "total": "12.50", "delivery": 1, "gift": True,
           'it\'s "placed"': "2024-03-30T23:30:00Z", column: value}
    with pytest.raises(ValueConversionError):
        row_reader(ORDER_COLUMNS)(row)
