"""Ordering a truncate against the row changes of its table, whatever partitions they were consumed from.

The problem: Debezium's truncate events have no key, so one lands on any
partition of its table's topic, while the table's row changes are spread
over the other partitions by key. Partitions are consumed independently:
a row change written after the TRUNCATE may be consumed before it, and one
written before it may be consumed after it. Emptying the whole table when
the truncate is consumed is therefore wrong both ways.

What the source position says (measured on the local stack: PostgreSQL 15,
Debezium 3.1.1, plugin pgoutput, JSON without schemas):

1. `source.lsn` is the WAL position of the change's own record, not of its
   transaction's commit: the events of one transaction carry increasing,
   distinct values (one INSERT, UPDATE, ... per record). Rows written by one
   multi-row WAL record (COPY writes heap multi-insert records) share it,
   and snapshot reads (op r) all carry the snapshot's position.
   `source.sequence` = [x, lsn] where x is Debezium's "last commit LSN",
   which was seen both below and above the transaction's own changes (for
   two interleaved transactions, the one committing first carried the other
   one's first change): not usable as a commit position, so unused here.
2. A truncate event carries the lsn of its TRUNCATE record; one TRUNCATE of
   several tables gives each table's event the same lsn.
3. Two transactions on one table, A holding a row lock and B's TRUNCATE
   waiting for its lock: all of A's changes (even those written after B
   started waiting) had lsn below B's truncate, since B's record is only
   written once it holds the lock. Reversed (B's TRUNCATE holds the lock,
   A's INSERT waits), A's change had an lsn above the truncate's, and B's own
   changes before and after its TRUNCATE lie below and above it.

The argument: TRUNCATE takes an ACCESS EXCLUSIVE lock on its table and holds
it to its commit. Any other transaction writing the table holds a lock on it
from its first write to its commit, so it either commits before the truncate
gets its lock (all its records, commit included, precede the TRUNCATE
record: lsn below) or writes its first change of the table only after the
truncate committed (lsn above). Inside the truncating transaction WAL order
is statement order. So per table, a row change happened before the truncate
exactly when its lsn is below the truncate's; equality is impossible (a row
change and a truncate are different WAL records).

The rule: per table, a truncate at lsn T deletes the rows whose last applied
change has an lsn below T (rows stored without a position, from before this
rule, count as older), and raises the table's watermark to T; a row change
whose lsn is below the table's watermark is ignored (the truncate that came
after it in the source was already applied). Several truncates keep the
highest: the rows a lower one would delete are a subset.

Not covered: a TRUNCATE whose record was written before the connector's
snapshot position but committed after it (a snapshot racing a truncate).
"""
from __future__ import annotations

import json
from typing import Any

from core.mysql_dialect import inserted


def survives(change_lsn: int, watermark: int | None) -> bool:
    """A change at `change_lsn` is applied; False: a truncate written after it was already applied."""
    return watermark is None or change_lsn >= watermark


def wiped_by(row_lsn: int | None, truncate_lsn: int) -> bool:
    """The truncate at `truncate_lsn` deletes a row whose last change is at `row_lsn` (None: unknown, older)."""
    return row_lsn is None or row_lsn < truncate_lsn


def raised(watermark: int | None, truncate_lsn: int) -> int:
    """The table's watermark once the truncate at `truncate_lsn` is applied."""
    return truncate_lsn if watermark is None else max(watermark, truncate_lsn)


def lsn_of(lsn: Any, sequence: Any = None) -> int | None:
    """A Debezium event's `source.lsn`, or None when it is missing or not a WAL position.

    A row of an incremental snapshot (`cdc backfill`) has none: it was read where the connector's stream was
    then, the last position of its `source.sequence` (["<last committed lsn>", "<lsn>"], given for such a row
    only), which orders it after the truncates it saw and before those it did not."""
    if lsn.__class__ is not int or lsn < 0:  # bool is an int subclass and is refused too
        return _incremental_read_lsn(sequence) if lsn is None else None
    return lsn


def _incremental_read_lsn(sequence: Any) -> int | None:
    if not isinstance(sequence, str):
        return None
    try:
        positions = [int(position) for position in json.loads(sequence) if position is not None]
    except (ValueError, TypeError):
        return None
    return max(positions) if positions and min(positions) >= 0 else None


def watermarks_ddl(table: str, options: str) -> str:
    """A stage's table of truncate watermarks: the newest truncate applied per source table."""
    return (f"CREATE TABLE IF NOT EXISTS `{table}` (\n  `table_name` VARCHAR(64) NOT NULL,\n"
            f"  `lsn` BIGINT NOT NULL,\n  PRIMARY KEY (`table_name`)\n) {options}")


def raise_watermark(cur: Any, watermarks: str, table: str, lsn: int) -> None:
    """Record a truncate of `table` at `lsn` in the `watermarks` table (never lowering it).

    In the caller's transaction.
    """
    cur.execute(f"INSERT INTO `{watermarks}` (table_name, lsn) VALUES (%s, %s)"
                f" ON DUPLICATE KEY UPDATE lsn = GREATEST(lsn, {inserted('lsn')})", (table, lsn))
