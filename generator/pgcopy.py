"""Bulk load with COPY ... FROM STDIN (text format) from an in-memory buffer."""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from generator.tables import Table

T = TypeVar("T")

NULL = r"\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def encode_value(value: object) -> str:
    """One column in COPY's text format: \\N for NULL, ISO 8601 for dates, escaped text."""
    kind = type(value)
    if kind is int or kind is Decimal:  # the common case first: ids, quantities, money
        return str(value)
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if value is None:
        return NULL
    if isinstance(value, date):  # datetime too: isoformat keeps the +00:00 offset
        return value.isoformat()
    return str(value)  # int, Decimal (always written with its exact digits)


def encode_row(row: Iterable[object]) -> str:
    return "\t".join(map(encode_value, row)) + "\n"


def copy_rows(cur: Any, table: Table, rows: Sequence[tuple[object, ...]]) -> int:
    """COPY rows (in table.columns order) into table; returns how many."""
    if not rows:
        return 0
    buffer = io.StringIO()
    buffer.writelines(map(encode_row, rows))
    buffer.seek(0)
    cur.copy_expert(f"COPY {table.name} ({table.column_list}) FROM STDIN", buffer)
    return len(rows)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` consecutive items (itertools.batched is Python 3.12+)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
