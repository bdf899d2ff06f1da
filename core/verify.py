"""Row-by-row comparison of a source result set with its copy in MySQL.

Used by `cdc verify` for the replica tables and for the marts (whose
"source" is their defining SQL evaluated on PostgreSQL). Values are compared
exactly after one normalization: timestamps become naive UTC (MySQL's
DATETIME holds UTC without a zone), everything else is compared as is
(Decimal with Decimal, str with str, None with None).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Row = tuple[Any, ...]
EXAMPLES = 3


def normalize(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def normalize_row(row: Sequence[Any]) -> Row:
    return tuple(normalize(value) for value in row)


@dataclass(frozen=True)
class TableReport:
    name: str
    source_rows: int
    replica_rows: int
    missing: int  # in the source, not in the copy
    extra: int  # in the copy, not in the source
    different: int  # same key, other values
    examples: tuple[str, ...] = field(default_factory=tuple)

    @property
    def matches(self) -> bool:
        return self.missing == self.extra == self.different == 0


def compare(name: str, columns: Sequence[str], key_width: int, source: Iterable[Sequence[Any]],
            replica: Iterable[Sequence[Any]]) -> TableReport:
    """Compare two row sets whose first `key_width` columns are the primary key."""
    wanted = {row[:key_width]: row for row in map(normalize_row, source)}
    found = {row[:key_width]: row for row in map(normalize_row, replica)}
    missing = [key for key in wanted if key not in found]
    extra = [key for key in found if key not in wanted]
    different = [key for key in wanted if key in found and wanted[key] != found[key]]
    examples = (
        [f"missing {_key(columns, key)}" for key in missing[:EXAMPLES]]
        + [f"extra {_key(columns, key)}" for key in extra[:EXAMPLES]]
        + [_difference(columns, key, wanted[key], found[key]) for key in different[:EXAMPLES]]
    )
    return TableReport(name, len(wanted), len(found), len(missing), len(extra), len(different), tuple(examples))


def _key(columns: Sequence[str], key: Row) -> str:
    """`key`: the row's first len(key) values, named by the first len(key) columns."""
    return ", ".join(f"{column}={value!r}" for column, value in zip(columns[:len(key)], key, strict=True))


def _difference(columns: Sequence[str], key: Row, source: Row, replica: Row) -> str:
    changed = [
        f"{column}: source {a!r} != replica {b!r}"
        for column, a, b in zip(columns, source, replica, strict=True)
        if a != b
    ]
    return f"different at {_key(columns, key)}: " + "; ".join(changed)


def render(reports: Sequence[TableReport]) -> str:
    header = f"{'table':<22} {'source':>9} {'replica':>9} {'missing':>8} {'extra':>8} {'differ':>8}  result"
    lines = [header, "-" * len(header)]
    for report in reports:
        lines.append(
            f"{report.name:<22} {report.source_rows:>9} {report.replica_rows:>9} {report.missing:>8} "
            f"{report.extra:>8} {report.different:>8}  {'OK' if report.matches else 'MISMATCH'}"
        )
        lines.extend(f"    {example}" for example in report.examples)
    return "\n".join(lines)
