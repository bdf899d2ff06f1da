"""Truncates (core.truncation) against the state: ordered with the row changes by source lsn.

A truncate consumed from one partition is ordered against the row changes
of its table on the others by source lsn. Each state row keeps the lsn of
its last applied change (written even when its marts' columns did not
change, since the position moved); a truncate at T deletes, one change at
a time (so the marts' deltas follow), only the state rows older than T, and
raises the table's watermark in mart_truncations; a row change older than
its table's watermark is ignored. The watermarks are read in each batch's
transaction (SERIALIZABLE: with shared locks, so a worker raising one waits
for the batches that read it).
"""
from __future__ import annotations

import logging
from typing import Any

from core.truncation import raise_watermark, raised
from marts.apply.batch_state import BatchState
from marts.apply.mart_writes import MartWrites
from marts.apply.row_change import apply_change
from marts.events import RowChange
from marts.schema import POSITION_COLUMN, TRUNCATIONS
from marts.state_tables import StateTable

log = logging.getLogger(__name__)


def load_watermarks(cur: Any) -> dict[str, int]:
    """Each source table's truncate watermark (a locking read: the transaction is SERIALIZABLE)."""
    cur.execute(f"SELECT table_name, lsn FROM {TRUNCATIONS}")
    return {name: lsn for name, lsn in cur.fetchall()}


def truncate(state: BatchState, table: StateTable[Any], lsn: int | None, watermarks: dict[str, int],
             marts: MartWrites) -> None:
    """The state rows older than the truncate go, one change at a time (a large but rare operation);
    `watermarks` is raised for the rest of the batch. Without `lsn` every row goes."""
    watermark = watermarks.get(table.source)
    if lsn is not None and watermark is not None and lsn <= watermark:
        return  # the rows it would delete went with the newer truncate
    if lsn is not None:
        raise_watermark(state.cur, TRUNCATIONS, table.source, lsn)  # first: waits for the batches that read the old one
        watermarks[table.source] = raised(watermark, lsn)
    state.flush()
    older = "" if lsn is None else f" WHERE {POSITION_COLUMN} < %s OR {POSITION_COLUMN} IS NULL"
    state.cur.execute(f"SELECT {table.key} FROM {table.name}{older} ORDER BY {table.key}",
                      () if lsn is None else (lsn,))
    keys = [key for (key,) in state.cur.fetchall()]
    log.warning("truncate of %s at lsn %s: deleting its %d state rows written before it", table.source, lsn, len(keys))
    state.load(table, keys)
    for key in keys:
        apply_change(state, RowChange(table.source, key, None), marts)
