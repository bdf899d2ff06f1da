"""The replica's truncate watermarks (core.truncation), read and raised inside the sink's transaction.

Read with a shared lock at the start of every batch, not cached across
batches: the consumers of one group share tables (partitions of one topic
go to several consumers), and a consumer applying a truncate must not see
another one's older changes commit after it. The shared lock (on the rows
and, for a table read whole, on the gap where a missing table's row would
go) makes the truncating consumer wait for the batches that read the old
watermark (it raises the watermark before it deletes); their rows are then
there for its DELETE, and later batches wait for it and read the new one. Two consumers
both truncating deadlock and one retries its batch: truncates are rare.
"""
from __future__ import annotations

from typing import Any

from consumer.replica_schema import POSITION_COLUMN, TRUNCATIONS, TableSpec
from core.truncation import raise_watermark

Watermarks = dict[str, int]


def read_watermarks(cur: Any) -> Watermarks:
    cur.execute(f"SELECT table_name, lsn FROM `{TRUNCATIONS}` LOCK IN SHARE MODE")
    return {name: lsn for name, lsn in cur.fetchall()}


def truncate_sql(spec: TableSpec) -> str:
    """Delete the rows last changed before the truncate (one parameter: its lsn); NULL counts as before."""
    return (f"DELETE FROM `{spec.name}` WHERE `{POSITION_COLUMN}` < %s OR `{POSITION_COLUMN}` IS NULL")


def apply_truncate(cur: Any, spec: TableSpec, truncate_lsn: int | None, watermark: int | None) -> int | None:
    """Apply the batch's truncate of the table if it is newer than the watermark; the watermark after it."""
    if truncate_lsn is None or (watermark is not None and truncate_lsn <= watermark):
        return watermark  # an older truncate's rows went with the newer one's
    # Raised before the truncate: this waits for the batches that read the old watermark.
    raise_watermark(cur, TRUNCATIONS, spec.name, truncate_lsn)
    cur.execute(truncate_sql(spec), (truncate_lsn,))
    return truncate_lsn
