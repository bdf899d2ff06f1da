"""Per-column mapping of Debezium JSON values (no schemas) to exact MySQL parameter values.

The connector runs with decimal.handling.mode=string and
time.precision.mode=adaptive_time_microseconds, so values arrive as:

    numeric      -> "1234.50"                      -> Decimal (never float)
    timestamptz  -> "2024-03-30T23:30:00.123456Z"  -> naive datetime in UTC (DATETIME(6))
    date         -> 19812 (days since 1970-01-01)  -> date
    bigint/int   -> 42                             -> int
    boolean      -> true                           -> bool (BOOLEAN: TINYINT(1))
    text/varchar -> "Zoë 🚀"                       -> str (utf8mb4)
    NULL         -> null                           -> None

A value that cannot be converted, or that MySQL/MariaDB's DATETIME/DATE
cannot hold (their range is 1000-01-01 .. 9999-12-31; PostgreSQL goes from
4713 BC to 294276 AD), raises ValueConversionError and the change is
dead-lettered with that message: storing a clamped or shifted value would
make the replica silently differ from the source.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import msgspec

from core.envelope import Int64

EPOCH = date(1970, 1, 1)
MYSQL_MIN_DATE = date(1000, 1, 1)
MYSQL_MAX_DATE = date(9999, 12, 31)
_DECIMAL = re.compile(r"^-?\d+(?:\.\d+)?$")
DECIMALS_KEPT = 1 << 16  # distinct decimal strings cached (consumer.types._decimal); then the cache starts over
DECIMAL_KEPT_CHARACTERS = 40  # longer ones (a NUMERIC without bounds can be long) are not cached


class ValueConversionError(ValueError):
    """A Debezium value that has no exact MySQL counterpart."""


class Kind(enum.Enum):
    """How a value converts; the value is the replica's column type (a column may state a wider one)."""

    BIGINT = "BIGINT"
    INT = "INT"
    SMALLINT = "SMALLINT"
    DECIMAL = "DECIMAL(12,2)"
    TEXT = "LONGTEXT"
    TIMESTAMP = "DATETIME(6)"
    DATE = "DATE"
    BOOLEAN = "BOOLEAN"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    sql_type: str = ""  # the replica's column type; "" means kind.value (DECIMAL(14,2) states its own)
    _convert: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sql_type:
            object.__setattr__(self, "sql_type", self.kind.value)
        object.__setattr__(self, "_convert", _CONVERTERS[self.kind])

    def convert(self, value: Any) -> Any:
        """Debezium JSON value -> MySQL parameter, or ValueConversionError naming the column."""
        if value is None:
            if self.nullable:
                return None
            raise ValueConversionError(f"column {self.name} is NOT NULL but the value is null")
        try:
            return self._convert(value)
        except ValueConversionError as exc:
            raise ValueConversionError(f"column {self.name}: {exc}") from None


    def from_catalog_json(self, value: Any) -> Any:
        """A value as PostgreSQL's to_json() writes it (core.source.catalog: an added column's value for the
        rows before it) -> MySQL parameter, through the same checks as a Debezium value."""
        if value is None:
            return self.convert(None)
        as_debezium = _DEBEZIUM_FORM.get(self.kind)
        try:
            return self.convert(as_debezium(value) if as_debezium else value)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ValueConversionError):
                raise
            raise ValueConversionError(f"column {self.name}: {value!r} is not a {self.kind.name} value") from None


def _debezium_decimal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise TypeError(value)
    return str(value)


def _debezium_timestamp(value: Any) -> str:
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _debezium_date(value: Any) -> int:
    return (date.fromisoformat(value) - EPOCH).days


# Where to_json() writes a value otherwise than Debezium's JSON converter does.
_DEBEZIUM_FORM: dict[Kind, Callable[[Any], Any]] = {
    Kind.DECIMAL: _debezium_decimal,
    Kind.TIMESTAMP: _debezium_timestamp,
    Kind.DATE: _debezium_date,
}


def _integer(value: Any) -> int:
    if value.__class__ is not int:  # bool is an int subclass and is refused too
        raise ValueConversionError(f"expected an integer, got {value!r}")
    return value


def _boolean(value: Any) -> bool:
    if value.__class__ is not bool:
        raise ValueConversionError(f"expected true or false, got {value!r}")
    return value


_DECIMALS: dict[str, Decimal] = {}


def _decimal(value: Any) -> Decimal:
    # Prices and amounts repeat (a product's price on every line that sells it): a cached one takes a
    # dict lookup instead of the pattern and the Decimal, about a seventh of the time.
    decimal = _DECIMALS.get(value) if value.__class__ is str else None
    if decimal is None:
        decimal = _new_decimal(value)
        if len(value) <= DECIMAL_KEPT_CHARACTERS:
            if len(_DECIMALS) >= DECIMALS_KEPT:
                _DECIMALS.clear()
            _DECIMALS[value] = decimal
    return decimal


def _new_decimal(value: Any) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise ValueConversionError(f"expected a decimal string like \"12.50\", got {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise ValueConversionError(f"not a decimal: {value!r}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueConversionError(f"expected a string, got {value!r}")
    return value


def _in_mysql_range(day: date, value: str) -> None:
    if not MYSQL_MIN_DATE <= day <= MYSQL_MAX_DATE:
        raise ValueConversionError(
            f"{value} is outside the MySQL/MariaDB DATE/DATETIME range 1000-01-01..9999-12-31"
        )


def _timestamp(value: Any) -> datetime:
    # "YYYY-MM-DDTHH:MM:SS" + ("Z" | "." + 1..6 digits + "Z"); fromisoformat checks the fields themselves.
    if value.__class__ is not str or len(value) < 20 or value[-1] != "Z" or value[10] != "T" or value.count("T") != 1:
        raise ValueConversionError(f"expected a UTC timestamp like \"2024-03-30T23:30:00.123456Z\", got {value!r}")
    if value[19] != "Z" and (value[19] != "." or len(value) > 27 or not value[20:-1].isdigit()):
        raise ValueConversionError(f"expected a UTC timestamp with at most microseconds, got {value!r}")
    try:
        result = datetime.fromisoformat(value[:-1])
    except ValueError as exc:
        raise ValueConversionError(f"invalid timestamp {value!r}: {exc}") from None
    if result.tzinfo is not None:  # "...T23:30+05.123456Z": an offset fromisoformat reads
        raise ValueConversionError(f"expected a UTC timestamp ending in Z, got {value!r}")
    if result.year < MYSQL_MIN_DATE.year:  # datetime's own range ends at 9999, as MySQL's does
        _in_mysql_range(result.date(), value)
    return result


def _date(value: Any) -> date:
    return _date_of(_integer(value))


@lru_cache(maxsize=1 << 16)  # few distinct dates, each converted over and over; errors are not cached
def _date_of(days: int) -> date:
    try:
        result = EPOCH + timedelta(days=days)
    except OverflowError:
        raise ValueConversionError(
            f"{days} days since 1970-01-01 is outside the MySQL/MariaDB DATE range 1000-01-01..9999-12-31"
        ) from None
    _in_mysql_range(result, f"{days} days since 1970-01-01 ({result.isoformat()})")
    return result


_CONVERTERS = {
    Kind.BIGINT: _integer,
    Kind.INT: _integer,
    Kind.SMALLINT: _integer,
    Kind.BOOLEAN: _boolean,
    Kind.DECIMAL: _decimal,
    Kind.TEXT: _text,
    Kind.TIMESTAMP: _timestamp,
    Kind.DATE: _date,
}

# Kinds whose converter only checks the value's class: the row reader checks it inline, without the call.
_EXACT_CLASS: dict[Kind, type] = {Kind.BIGINT: int, Kind.INT: int, Kind.SMALLINT: int, Kind.TEXT: str,
                                  Kind.BOOLEAN: bool}


def row_reader(columns: Sequence[Column]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """One function that reads a row image's columns, in order, into MySQL values: for the decoder's per-message path,
    one call per row instead of one per column, and no call for a value whose class is its check.

    It raises KeyError for a missing column and ValueConversionError for a value that does not convert, without
    naming the column (a null in a NOT NULL column fails with the converter's message): on failure the caller reads
    the row again by Column.convert, for the exact message."""
    namespace: dict[str, Any] = {}
    lines = []
    for position, column in enumerate(columns):
        value, convert = f"v{position}", f"convert{position}"
        namespace[convert] = column._convert
        lines.append(f"    {value} = data[{column.name!r}]")
        exact = _EXACT_CLASS.get(column.kind)
        namespace[f"exact{position}"] = exact
        conditions = [f"{value} is not None"] if column.nullable else []
        if exact is not None:
            conditions.append(f"{value}.__class__ is not exact{position}")
        if conditions:
            lines.append(f"    if {' and '.join(conditions)}:")
        lines.append(f"{'    ' * (1 + bool(conditions))}{value} = {convert}({value})")
    values = "".join(f"v{position}, " for position in range(len(columns)))
    exec("def read_row(data):\n" + "\n".join(lines) + f"\n    return ({values})\n", namespace)  # noqa: S102
    return namespace["read_row"]


# The JSON type of a column's value in Debezium's events (see the module docstring), before its conversion.
_JSON_CLASS: dict[Kind, Any] = {Kind.BIGINT: Int64, Kind.INT: Int64, Kind.SMALLINT: Int64, Kind.BOOLEAN: bool,
                                Kind.TEXT: str, Kind.DECIMAL: str, Kind.TIMESTAMP: str, Kind.DATE: Int64}


def typed_row(columns: Sequence[Column]) -> tuple[type[msgspec.Struct], Callable[[Any], tuple[Any, ...]]]:
    """For the decoder's typed first reading (core.envelope): the struct type of a row image with exactly these
    columns, each of its JSON type, which msgspec checks while it reads (no other column, none missing, null only
    where nullable, an integer never a boolean: what row_reader checks), and one function converting such a struct
    into MySQL values, in order. The function raises ValueConversionError as the converters do (a decimal string
    that is no decimal, a date out of range), without naming the column: the caller then reads the row by
    row_reader, for the exact message."""
    fields = [(f"c{position}", _JSON_CLASS[column.kind] | None if column.nullable else _JSON_CLASS[column.kind])
              for position, column in enumerate(columns)]
    row_type = msgspec.defstruct("RowImage", fields, forbid_unknown_fields=True,
                                 rename={f"c{position}": column.name for position, column in enumerate(columns)})
    namespace: dict[str, Any] = {}
    lines = []
    for position, column in enumerate(columns):
        value = f"v{position}"
        lines.append(f"    {value} = image.c{position}")
        if column.kind not in _EXACT_CLASS:  # checked by msgspec already; the others convert
            namespace[f"convert{position}"] = column._convert
            test = f"if {value} is not None: " if column.nullable else ""
            lines.append(f"    {test}{value} = convert{position}({value})")
    values = "".join(f"v{position}, " for position in range(len(columns)))
    exec("def convert_row(image):\n" + "\n".join(lines) + f"\n    return ({values})\n", namespace)  # noqa: S102
    return row_type, namespace["convert_row"]
