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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

EPOCH = date(1970, 1, 1)
MYSQL_MIN_DATE = date(1000, 1, 1)
MYSQL_MAX_DATE = date(9999, 12, 31)
_DECIMAL = re.compile(r"^-?\d+(?:\.\d+)?$")


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
    # Like convert, but its errors do not name the column and a null in a NOT NULL column fails with
    # the converter's own message: for the decoder's per-message hot path, which calls convert
    # again on failure to get the exact message.
    fast_convert: Callable[[Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.sql_type:
            object.__setattr__(self, "sql_type", self.kind.value)
        convert = _CONVERTERS[self.kind]
        object.__setattr__(self, "_convert", convert)
        object.__setattr__(self, "fast_convert", _or_none(convert) if self.nullable else convert)

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


def _or_none(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert_or_none(value: Any) -> Any:
        return None if value is None else convert(value)
    return convert_or_none


def _integer(value: Any) -> int:
    if value.__class__ is not int:  # bool is an int subclass and is refused too
        raise ValueConversionError(f"expected an integer, got {value!r}")
    return value


def _boolean(value: Any) -> bool:
    if value.__class__ is not bool:
        raise ValueConversionError(f"expected true or false, got {value!r}")
    return value


def _decimal(value: Any) -> Decimal:
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
    if not isinstance(value, str) or not value.endswith("Z") or value.count("T") != 1 or len(value) < 20:
        raise ValueConversionError(f"expected a UTC timestamp like \"2024-03-30T23:30:00.123456Z\", got {value!r}")
    digits = value[20:-1]
    if len(digits) > 6 or (value[19:20] not in ("Z", ".") or (value[19] == "." and not digits.isdigit())):
        raise ValueConversionError(f"expected a UTC timestamp with at most microseconds, got {value!r}")
    try:
        result = datetime.fromisoformat(value[:-1])
    except ValueError as exc:
        raise ValueConversionError(f"invalid timestamp {value!r}: {exc}") from None
    if result.tzinfo is not None:
        raise ValueConversionError(f"expected a UTC timestamp ending in Z, got {value!r}")
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
