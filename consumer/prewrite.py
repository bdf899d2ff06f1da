"""Writing a large source transaction into MySQL while it is still being read.

A source transaction is applied whole, in one MySQL transaction (consumer.batch). Waiting for its END before
writing any of it leaves MySQL idle while the consumer reads a large one (a bulk load of 60,000 rows took
2 s to read, then 0.7 s to write), and then the reading waits for the writing.

So when the next transaction to release is still incomplete (core.transactions.Assembler.next_open), everything
before it is written, and it holds `part_events` events in a run from its first, the writer opens a MySQL
transaction and writes them, then each further run of at least `part_events`, uncommitted (MySqlSink.prewrite).
When the transaction is released, its other events are written in the same MySQL transaction with the
watermark, and committed: a reader never sees part of it.

Nothing is committed before the END, and anything unusual rolls that MySQL transaction back, and the source
transaction is written whole the usual way from the events the assembler still holds:
- an event other than a row change of a replicated table (a schema change, a truncate, an undecodable
  message, a paused table's change): those need the usual path;
- a second copy of an event already written (a connector replay);
- anything released before the transaction (written after its first part, it would be out of order);
- a rebalance, a stop, a MySQL error, or the rest failing to commit (PrewriteLost: written whole, retried).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from consumer.batch import Batch
from consumer.envelope import ChangeEvent, Decoded, Skip
from consumer.sink import MySqlSink
from core.transactions import Assembler, Released, Transaction, TxTag

log = logging.getLogger(__name__)


@dataclass
class _Open:
    """A transaction being written while it is read."""

    xid: int
    lsn: int  # core.transactions.NextTransaction.lsn: the watermark must be below it
    submitted: int = 0  # its events 1..submitted are handed to the writer
    job: Future[None] | None = None  # the part being written


class Prewriter:
    """Owned by the polling thread; the writes run in the writer thread, one after another, like the batches."""

    def __init__(self, part_events: int, sink: MySqlSink, writer: Executor) -> None:
        self.part_events = part_events  # 0: never write a transaction before its END
        self.sink = sink
        self.writer = writer
        self.open: _Open | None = None
        self.given_up: set[int] = set()  # transactions written whole the usual way

    def step(self, assembler: Assembler[Decoded], idle: bool, new_batch: Callable[[], Batch],
             paused: Collection[str]) -> None:
        """In the polling loop: start writing the next transaction while it is read (only when everything before it
        is written: `idle`), or hand the writer its next part."""
        if self.part_events <= 0:
            return
        if self.open is None:
            upcoming = assembler.next_open()
            if (not idle or upcoming is None or upcoming.xid in self.given_up
                    or assembler.held_count(upcoming.xid) < self.part_events):
                return
            self.open = _Open(upcoming.xid, upcoming.lsn)
        open_ = self.open
        if open_.job is not None:
            if not open_.job.done():
                return
            if open_.job.exception() is not None:
                self.give_up(f"MySQL: {open_.job.exception()}")
                return
            open_.job = None
        if assembler.held_count(open_.xid) - open_.submitted < self.part_events:
            return
        run = assembler.held_run(open_.xid, open_.submitted)
        if len(run) < self.part_events:
            return
        part = new_batch()
        for item in run:
            if not _writable(item, paused):
                self.give_up(f"it holds {_describe(item)}")
                return
            part.add(item)
        if open_.submitted == 0:
            log.info("writing source transaction %d while it is read (%d events held)", open_.xid,
                     assembler.held_count(open_.xid))
        open_.submitted += len(run)
        open_.job = self.writer.submit(self.sink.prewrite, part, open_.xid, open_.lsn)

    def copy_read(self, tag: TxTag | None) -> None:
        """A data message was read: a second copy of an event already written (a replay) ends the pre-write."""
        open_ = self.open
        if open_ is not None and tag is not None and tag.xid == open_.xid and tag.total_order <= open_.submitted:
            self.give_up(f"a second copy of its event {tag.total_order} was read (a replay)")

    def rest(self, released: list[Released[Decoded]], new_batch: Callable[[], Batch],
             paused: Collection[str]) -> Batch | None:
        """When transactions are released: the batch of the rest of the transaction being written, if it comes first
        and every event of it can be written that way (then the caller takes it off `released`); else None, and a
        pre-write in progress is given up."""
        open_ = self.open
        if open_ is None:
            return None
        first = released[0] if released else None
        if not isinstance(first, Transaction) or first.xid != open_.xid:
            self.give_up("something else was released before it")
            return None
        unfit = next((item for item in first.items if not _writable(item, paused)), None)
        if unfit is not None:
            self.give_up(f"it holds {_describe(unfit)}")
            return None
        self.open = None
        batch = new_batch()
        written = first.items[:open_.submitted]
        batch.add_released(Transaction(first.xid, first.commit_lsn, first.items[open_.submitted:], first.ts_ms))
        for item in written:
            batch.count_written(item)
        batch.prewritten = (first.xid, len(written))
        batch.whole = first
        return batch

    def give_up(self, why: str) -> None:
        """Roll back what is written of the open transaction (in the writer thread, after any part in progress);
        it is written whole when released."""
        open_ = self.open
        if open_ is None:
            return
        self.open = None
        self.given_up.add(open_.xid)
        if open_.submitted:
            log.info("source transaction %d is written whole after its END instead of while it is read: %s",
                     open_.xid, why)
            try:
                self.writer.submit(self.sink.drop_prewrite)
            except RuntimeError:  # the writer is shut down: closing the connection rolls it back
                pass


def _writable(item: Decoded, paused: Collection[str]) -> bool:
    if isinstance(item, Skip):
        return True
    return isinstance(item, ChangeEvent) and not item.is_truncate and item.raw.topic not in paused


def _describe(item: Decoded) -> str:
    if isinstance(item, ChangeEvent):
        return "a truncate" if item.is_truncate else f"a change of the paused table {item.table}"
    return f"{type(item).__name__} at {item.raw.where()}"
