"""Statement helpers of the marts' writes: work in chunks, one multi-row statement per chunk."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 1000  # rows or keys per multi-row statement


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """`items` in runs of at most CHUNK, for one statement each."""
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def execute_rows(cur: Any, head: str, row: str, tail: str, rows: Sequence[Sequence[Any]]) -> None:
    """`head row, row, ... tail` for up to CHUNK rows a statement (pymysql's executemany sends a VALUES
    row holding anything but placeholders, like UTC_TIMESTAMP(6), one statement per row)."""
    for chunk in chunks(rows):
        cur.execute(f"{head} {', '.join([row] * len(chunk))}{tail}", [value for values in chunk for value in values])
