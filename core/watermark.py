"""cdc_watermark: the source point each stage's tables show, written in the same MySQL transaction as the data.

One row per stage ("replica", "marts"): the commit LSN and xid of the last
source transaction applied, its commit time and when it was applied (both
UTC). A reader that selects the row in the same snapshot as the data knows
exactly which source commit the data reflects. Each stage also reads its row
at start: a transaction at or below it is a replay and is skipped
(core.transactions), so a re-read after a crash never moves the tables back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.mysql import TABLE_OPTIONS
from core.mysql_dialect import inserted

WATERMARK_TABLE = "cdc_watermark"
REPLICA_STAGE = "replica"
MARTS_STAGE = "marts"

WATERMARK_DDL = f"""CREATE TABLE IF NOT EXISTS `{WATERMARK_TABLE}` (
  `stage` VARCHAR(32) NOT NULL PRIMARY KEY,
  `source_lsn` BIGINT NOT NULL,
  `source_txid` BIGINT NOT NULL,
  `source_commit_time` DATETIME(6) NULL,
  `applied_at` DATETIME(6) NOT NULL
) {TABLE_OPTIONS}"""

_COLUMNS = ("source_lsn", "source_txid", "source_commit_time", "applied_at")
_WRITE = (f"INSERT INTO `{WATERMARK_TABLE}` (stage, {', '.join(_COLUMNS)})"
          " VALUES (%s, %s, %s, %s, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE "
          + ", ".join(f"{column} = {inserted(column)}" for column in _COLUMNS))


@dataclass(frozen=True)
class SourcePoint:
    """A source transaction's commit: where (LSN), which (xid), when (microseconds since the epoch, if known)."""

    lsn: int
    xid: int
    commit_us: int | None = None

    def commit_time(self) -> datetime | None:
        """The commit time as a naive UTC datetime (what DATETIME(6) stores)."""
        if self.commit_us is None:
            return None
        seconds, micros = divmod(self.commit_us, 1_000_000)
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None, microsecond=micros)


def write(cur: Any, stage: str, point: SourcePoint) -> None:
    cur.execute(_WRITE, (stage, point.lsn, point.xid, point.commit_time()))


def read_lsn(cur: Any, stage: str, *, for_update: bool = False) -> int:
    """The stage's last applied commit LSN; -1 when it applied no source transaction yet. `for_update`: the
    latest committed value, its row locked until the caller's transaction ends (a writer's check)."""
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(f"SELECT source_lsn FROM `{WATERMARK_TABLE}` WHERE stage = %s{lock}", (stage,))
    row = cur.fetchone()
    return -1 if row is None else int(row[0])


def forget(cur: Any, stage: str) -> None:
    """For a re-read of new topics: every transaction on them is applied again, whatever its LSN."""
    cur.execute(f"DELETE FROM `{WATERMARK_TABLE}` WHERE stage = %s", (stage,))
