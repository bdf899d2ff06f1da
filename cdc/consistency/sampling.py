"""Reading the invariants in consistent MySQL snapshots, every `interval` seconds for `duration` seconds."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.connections import Connection

from cdc.consistency.invariants import Invariant
from cdc.consistency.report import Sample, finding
from cdc.errors import ConsistencyCheckError
from core.mysql import close_quietly, connect
from core.settings import MySqlSettings

Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]  # column names, rows

REPEATABLE_READ = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"
# The read view is taken here, for every table at once: each query below sees the same commits.
BEGIN_SNAPSHOT = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"


@dataclass(frozen=True)
class SnapshotReader:
    """Runs queries together in one consistent, read-only snapshot."""

    conn: Connection

    def read(self, queries: Sequence[str]) -> list[Rows]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(BEGIN_SNAPSHOT)
                results = [self._rows(cur, sql) for sql in queries]
            self.conn.rollback()
            return results
        except pymysql.MySQLError as exc:
            raise ConsistencyCheckError(f"cannot read a snapshot of {self._database()}: {exc}") from exc

    @staticmethod
    def _rows(cur: Any, sql: str) -> Rows:
        cur.execute(sql)
        return tuple(column[0] for column in cur.description), [tuple(row) for row in cur.fetchall()]

    def _database(self) -> str:
        return str(self.conn.db.decode() if isinstance(self.conn.db, bytes) else self.conn.db)


@contextmanager
def snapshot_reader(mysql: MySqlSettings) -> Iterator[SnapshotReader]:
    """A reader on a connection of its own (MYSQL_URL's database), closed afterwards."""
    conn = connect(mysql, session=(REPEATABLE_READ,))
    try:
        yield SnapshotReader(conn)
    finally:
        close_quietly(conn)


def take_sample(reader: SnapshotReader, invariants: Sequence[Invariant], at: float) -> Sample:
    """Every invariant's finding in one snapshot."""
    results = reader.read([invariant.sql for invariant in invariants])
    return Sample(at, tuple(finding(invariant, columns, rows)
                            for invariant, (columns, rows) in zip(invariants, results, strict=True)))


def sample_for(take: Callable[[float], Sample], duration: float, interval: float,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> list[Sample]:
    """take(seconds since start) at 0, interval, 2*interval, ... while under `duration` (at least once).

    A sample that overruns its slot moves the next one to the next slot still ahead (none is made up).
    Ctrl-C (KeyboardInterrupt) ends the sampling early: the samples taken are returned, unless there is none.
    """
    start = clock()
    samples: list[Sample] = []
    slot = 0
    try:
        while True:
            samples.append(take(clock() - start))
            slot += 1
            while slot * interval <= clock() - start:  # overran: skip to the next slot still ahead
                slot += 1
            if slot * interval >= duration:
                return samples
            sleep(max(0.0, slot * interval - (clock() - start)))
    except KeyboardInterrupt:
        if not samples:
            raise
        return samples
