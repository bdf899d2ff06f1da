"""Reassembling the source's transactions from Debezium's topics, whole and in commit order.

With `provide.transaction.metadata`, Debezium writes a BEGIN and an END
event per source transaction to `<prefix>.transaction` (one partition, so
END events arrive in commit order) and tags every data event with
`transaction: {id, total_order, ...}`. The data events of one transaction
are spread over every table's topic and every partition (by key), and the
partitions are read independently, so a transaction's events can arrive
before or after its END, interleaved with other transactions'.

What the events say (measured on the local stack: PostgreSQL 15, Debezium
3.1.1, pgoutput, JSON without schemas):
- `transaction.id` is "<xid>:<lsn>" where lsn is the *event's own* WAL
  position, so it differs between the events of one transaction; the xid
  (also `source.txId`) is what they share. The END event's id carries the
  commit LSN: strictly increasing in commit order.
- `total_order` numbers a transaction's events 1..N; the END's
  `data_collections` gives the count per table ("public.orders").
- Snapshot reads and tombstones carry no transaction: they are "loose".

The assembler (pure: no Kafka, no MySQL; one per consumer, fed in the order
messages are consumed):
- A transaction is complete when its END was read and every event the END
  counts for the consumed tables is held (duplicates from a connector replay
  share the xid and total_order: the last copy wins). Complete transactions
  are released in END order only: a later transaction waits for an earlier
  incomplete one, so whatever is applied is always a prefix of the source's
  commits.
- A transaction whose commit LSN is at or below the last one released (or
  the stage's stored watermark, given at start) is a replay: its events are
  dropped, nothing is released for it. Events of a transaction settled
  before (released, or dropped as a replay) that arrive after its END are
  dropped on arrival (the transaction topic is often read ahead of the data).
- Orphans: Debezium writes all of a transaction's events before its END and
  the next transaction's events after it, so events of a transaction X that
  precede, within one partition, the first copy of an event of a released
  transaction Y, with X not released before Y, can only be the remains of an
  interrupted write (a connector crash before X's END; its replay is a new,
  complete copy): they are dropped when Y is released. Only Y's first copy
  counts: a replay of Y written later follows, in the same partition, the
  events of transactions committed after Y, whose ENDs are still to come.
- Loose messages are released as soon as everything before them in their
  partition is released or dropped; one given a WAL position to wait for (a
  row of an incremental snapshot, read at that position) also waits until a
  transaction committed at or after it is released, so that it follows the
  transactions it was read after (the snapshot's window mark, a backfill's
  signal), whichever partitions they are in.
- A message at an offset below the next one expected from its partition is
  ignored: a seek back (a rebalance) re-reads what is held or settled.
- Two copies of one event share their WAL position (the lsn of their
  `transaction.id`). A Debezium without our fix for dbz#633 numbers the rest
  of a transaction from 1 again when it resumes inside it (the local stack
  runs a fixed 3.1.1): a copy whose total_order is held at another WAL
  position, more events held than the END counts, or a late copy of a
  released transaction that differs from what was released under its number
  means that happened. Which events the transaction has is then unknowable,
  so RenumberedTransaction stops the stage (before it applies any of the
  transaction, except when the END's count matched a mix of copies, which a
  late copy then shows).
- `positions()` gives, per partition, the offset of the first message not
  yet released or dropped: committing it after the MySQL commit of what was
  released can neither lose nor split a transaction (re-reading from there
  re-assembles the rest; transactions already applied are then replays).
"""
from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from core.errors import RenumberedTransaction
from core.records import Record

T = TypeVar("T")

Where = tuple[str, int]  # (topic, partition)
SETTLED_KEPT = 200_000  # xids remembered as settled, for late copies of their events
RELEASED_EVENTS_KEPT = 200_000  # WAL positions of the latest released events remembered, to check late copies


class TransactionMetadataError(ValueError):
    """A message of the transaction topic that is not a Debezium BEGIN/END event."""


class TxTag(Record, frozen=True):
    """The `transaction` block of a data event."""

    xid: int
    total_order: int
    lsn: int | None = None  # the event's own WAL position, from its id "<xid>:<lsn>"


@dataclass(frozen=True)
class TxEnd:
    """Debezium's END event of a source transaction."""

    xid: int
    commit_lsn: int
    counts: Mapping[str, int]  # data collection ("public.orders") -> events of the transaction
    ts_ms: int | None = None


@dataclass(frozen=True)
class Transaction(Generic[T]):
    """A complete source transaction: its items in source order (total_order)."""

    xid: int
    commit_lsn: int
    items: tuple[T, ...]
    ts_ms: int | None = None


@dataclass(frozen=True)
class Loose(Generic[T]):
    """An item outside any transaction (snapshot read, tombstone, undecodable message)."""

    item: T


Released = Transaction[T] | Loose[T]


def commit_us(transaction: Transaction[T], item_commit_us: Callable[[T], int | None]) -> int | None:
    """When the source committed the transaction, in microseconds: what its items say (Debezium's
    source.ts_us), else the END event's time (milliseconds only)."""
    for item in reversed(transaction.items):
        us = item_commit_us(item)
        if us is not None:
            return us
    return None if transaction.ts_ms is None else transaction.ts_ms * 1000


def parse_tag(block: object) -> TxTag | None:
    """A data event's `transaction` block; None when it has none (snapshot reads) or it is malformed."""
    if not isinstance(block, dict):
        return None
    return tag_of(str(block.get("id", "")), block.get("total_order"))


def tag_of(transaction_id: str, total_order: Any) -> TxTag | None:
    """The tag of a `transaction` block's id ("<xid>:<lsn>") and total_order; None when they are malformed."""
    xid, _, lsn = transaction_id.partition(":")
    try:
        return TxTag(int(xid), int(total_order), int(lsn) if lsn.isascii() and lsn.isdigit() else None)
    except (TypeError, ValueError):
        return None


def parse_end(decoded: object) -> TxEnd | None:
    """A decoded transaction-topic value: the END event, or None for a BEGIN. Raises TransactionMetadataError."""
    if not isinstance(decoded, dict):
        raise TransactionMetadataError(f"not a transaction metadata object: {type(decoded).__name__}")
    value: dict[str, Any] = decoded
    if "schema" in value and isinstance(value.get("payload"), dict):
        value = value["payload"]
    status = value.get("status")
    if status == "BEGIN":
        return None
    if status != "END":
        raise TransactionMetadataError(f"unknown transaction status {status!r}")
    xid, _, lsn = str(value.get("id", "")).partition(":")
    collections = value.get("data_collections") or []
    try:
        counts = {str(entry["data_collection"]): int(entry["event_count"]) for entry in collections}
        ts = value.get("ts_ms")
        return TxEnd(int(xid), int(lsn), counts, ts if isinstance(ts, int) else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise TransactionMetadataError(f"malformed END event {value.get('id')!r}: {exc}") from None


class _ReadEnd(NamedTuple):
    """An END event read and not yet released: where it is, and how many of its events the consumed
    collections hold (counted once, not at every event of the transaction)."""

    end: TxEnd
    where: Where
    offset: int
    expected: int


class _Entry(Generic[T]):
    """One consumed data message, waiting in its partition's queue until released or dropped."""

    __slots__ = ("offset", "tag", "item", "settled", "after_lsn")

    def __init__(self, offset: int, tag: TxTag | None, item: T, after_lsn: int | None = None) -> None:
        self.offset = offset
        self.tag = tag
        self.item = item
        self.settled = False  # released or dropped
        self.after_lsn = after_lsn  # a loose message: released once a transaction at or past it is


@dataclass
class _Pending(Generic[T]):
    """What is held of one transaction."""

    by_order: dict[int, _Entry[T]] = field(default_factory=dict)  # total_order -> latest copy
    entries: list[tuple[Where, _Entry[T]]] = field(default_factory=list)  # every copy, for settling


class Assembler(Generic[T]):
    """See the module docstring. `collections`: the data collections ("public.orders") consumed; None: every one
    (a stage that reads every table's topic, including tables added to the source's publication later: a
    transaction waits until the events of a table whose topic is not read yet arrive)."""

    def __init__(self, collections: Iterable[str] | None, released_lsn: int = -1) -> None:
        self.collections = None if collections is None else frozenset(collections)
        self.released_lsn = released_lsn  # commit LSN of the last transaction released (or stored)
        self._queues: dict[Where, deque[_Entry[T]]] = {}
        self._next: dict[Where, int] = {}  # offset after the last message seen, per partition
        self._pending: dict[int, _Pending[T]] = {}
        self._settled: OrderedDict[int, None] = OrderedDict()  # xids released or dropped as replays, latest last
        # of the latest transactions released: total_order -> WAL position of the event released under it
        self._released: OrderedDict[int, dict[int, int | None]] = OrderedDict()
        self._released_events = 0  # in self._released
        self._ends: deque[_ReadEnd] = deque()
        self._ends_next: tuple[Where, int] | None = None  # transaction-topic position after the last message read
        self._ends_done: tuple[Where, int] | None = None  # ... after the last one settled

    # --- input ------------------------------------------------------------------

    def add(self, where: Where, offset: int, tag: TxTag | None, item: T,
            after_lsn: int | None = None) -> list[Released[T]]:
        """A consumed data message (in consumption order per partition); what it makes releasable. `after_lsn`: a
        loose message to release only once a transaction committed at or after that position is."""
        if offset < self._next.get(where, -1):
            return []  # read again after a seek back (a rebalance): held or settled already
        entry = _Entry(offset, tag, item, after_lsn if tag is None else None)
        queue = self._queues.get(where)
        if queue is None:
            queue = self._queues[where] = deque()
        queue.append(entry)
        self._next[where] = offset + 1
        if tag is None:
            return self._release_head(queue, [], self.released_lsn)
        if tag.xid in self._settled:  # a late copy of a transaction released or skipped before
            _check_late_copy(tag, self._released.get(tag.xid))
            entry.settled = True
            return self._release_head(queue, [], self.released_lsn)
        pending = self._pending.get(tag.xid)
        if pending is None:  # not setdefault: that would build a _Pending for every event
            pending = self._pending[tag.xid] = _Pending()
        held = pending.by_order.get(tag.total_order)
        if held is not None:
            _check_copy(held, tag)
        pending.by_order[tag.total_order] = entry
        pending.entries.append((where, entry))
        if self._ends and self._ends[0].end.xid == tag.xid and len(pending.by_order) >= self._ends[0].expected:
            return self._drain()  # the next transaction's last event came after its END
        return []

    def add_end(self, where: Where, offset: int, end: TxEnd | None) -> list[Released[T]]:
        """A consumed transaction-topic message (None: a BEGIN, only its position counts)."""
        if offset < self._next.get(where, -1):
            return []  # read again after a seek back
        self._next[where] = offset + 1
        self._ends_next = (where, offset + 1)
        if end is None:
            if not self._ends:
                self._ends_done = self._ends_next
            return []
        self._ends.append(_ReadEnd(end, where, offset, self._expected(end)))
        return self._drain()

    def map_pending(self, change: Callable[[T], T]) -> None:
        """Replace each item held (neither released nor dropped) by change(item): the consumer decodes again what
        it decoded before a source schema change released after it."""
        for queue in self._queues.values():
            for entry in queue:
                if not entry.settled:
                    entry.item = change(entry.item)

    # --- output -----------------------------------------------------------------

    def positions(self) -> dict[Where, int]:
        """Per partition, the offset to resume from: the first message neither released nor dropped."""
        positions = {}
        for where, queue in self._queues.items():
            positions[where] = queue[0].offset if queue else self._next[where]
        if self._ends_done is not None:
            positions[self._ends_done[0]] = self._ends_done[1]
        return positions

    def waiting_for(self) -> str | None:
        """What holds the next transaction back, for a log line; None when nothing does."""
        if not self._ends:
            return None
        end, _, _, expected = self._ends[0]
        held = len(self._pending.get(end.xid, _Pending()).by_order)
        consumed = end.counts.keys() if self.collections is None else self.collections & end.counts.keys()
        return (f"transaction {end.xid} (commit lsn {end.commit_lsn}): {held} of {expected} events "
                f"of {', '.join(sorted(consumed)) or 'no consumed table'}")

    def held(self) -> int:
        """Messages consumed but neither released nor dropped."""
        return sum(len(queue) for queue in self._queues.values())

    # --- releasing ----------------------------------------------------------------

    def _expected(self, end: TxEnd) -> int:
        if self.collections is None:
            return sum(end.counts.values())
        return sum(count for collection, count in end.counts.items() if collection in self.collections)

    def _drain(self) -> list[Released[T]]:
        released: list[Released[T]] = []
        while self._ends:
            end, where, offset, expected = self._ends[0]
            if end.commit_lsn <= self.released_lsn:
                self._settle_all(self._pending.pop(end.xid, _Pending()))  # a replay of what was applied
                self._remember(end.xid)
            else:
                pending = self._pending.get(end.xid)
                count = len(pending.by_order) if pending else 0
                if count < expected:
                    break
                if count > expected:
                    raise _renumbered(end.xid, f"{count} of its events are held, its END counts {expected}")
                self._release(end, self._pending.pop(end.xid, _Pending()), released)
            self._ends.popleft()
            self._ends_done = self._ends_next if not self._ends else (where, offset + 1)
        return self._release_heads(released)

    def _release(self, end: TxEnd, pending: _Pending[T], released: list[Released[T]]) -> None:
        self._drop_orphans_before(pending)
        self._release_heads(released)  # loose messages that preceded this transaction go first
        items = tuple(pending.by_order[order].item for order in sorted(pending.by_order))
        self._settle_all(pending)
        self._remember(end.xid)
        self._remember_released(end.xid, pending)
        self.released_lsn = end.commit_lsn
        released.append(Transaction(end.xid, end.commit_lsn, items, end.ts_ms))

    def _drop_orphans_before(self, pending: _Pending[T]) -> None:
        # Up to the transaction's first copy per partition: a later copy (a replay) may follow
        # transactions committed after it, which are still to come, not orphans.
        first: dict[Where, int] = {}
        for where, entry in pending.entries:
            first[where] = min(entry.offset, first.get(where, entry.offset))
        for where, offset in first.items():
            for entry in self._queues[where]:
                if entry.offset >= offset:
                    break
                if entry.settled or entry.tag is None:
                    continue
                orphan = self._pending.pop(entry.tag.xid, None)
                if orphan is not None:
                    self._settle_all(orphan)

    def _remember(self, xid: int) -> None:
        self._settled[xid] = None
        self._settled.move_to_end(xid)
        if len(self._settled) > SETTLED_KEPT:
            self._settled.popitem(last=False)  # a copy arriving even later is an orphan (see above)

    def _remember_released(self, xid: int, pending: _Pending[T]) -> None:
        self._released[xid] = {order: entry.tag.lsn if entry.tag else None for order, entry in pending.by_order.items()}
        self._released_events += len(pending.by_order)
        while self._released_events > RELEASED_EVENTS_KEPT:
            _, forgotten = self._released.popitem(last=False)
            self._released_events -= len(forgotten)

    @staticmethod
    def _settle_all(pending: _Pending[T]) -> None:
        for _, entry in pending.entries:
            entry.settled = True

    def _release_heads(self, released: list[Released[T]]) -> list[Released[T]]:
        """Pop settled messages off each partition's head, releasing the loose ones reached."""
        for queue in self._queues.values():
            self._release_head(queue, released, self.released_lsn)
        return released

    @staticmethod
    def _release_head(queue: deque[_Entry[T]], released: list[Released[T]], released_lsn: int) -> list[Released[T]]:
        """The same for one partition (after each call every other partition's head is unsettled already)."""
        while queue:
            head = queue[0]
            if head.tag is None and not head.settled:
                if head.after_lsn is not None and head.after_lsn > released_lsn:
                    break
                head.settled = True
                released.append(Loose(head.item))
            if not head.settled:
                break
            queue.popleft()
        return released


def _check_copy(held: _Entry[Any], copy: TxTag) -> None:
    """Two copies of one event (xid, total_order) are at one WAL position, else Debezium numbered it anew."""
    lsn = held.tag.lsn if held.tag else None
    if lsn is not None and copy.lsn is not None and lsn != copy.lsn:
        raise _renumbered(copy.xid, f"event {copy.total_order} of it came at two WAL positions, {lsn} and {copy.lsn}")


def _check_late_copy(copy: TxTag, released: Mapping[int, int | None] | None) -> None:
    """A late copy of a released transaction repeats the event released under its number, at its WAL position."""
    if released is None or copy.lsn is None:
        return  # dropped as a replay, or released long ago
    if copy.total_order not in released:
        raise _renumbered(copy.xid, f"event {copy.total_order} of it (WAL position {copy.lsn}) came after it was "
                                    f"applied with {len(released)} events")
    lsn = released[copy.total_order]
    if lsn is not None and lsn != copy.lsn:
        raise _renumbered(copy.xid, f"event {copy.total_order} of it came at WAL position {copy.lsn} after it was "
                                    f"applied from WAL position {lsn}")


def _renumbered(xid: int, what: str) -> RenumberedTransaction:
    return RenumberedTransaction(
        f"source transaction {xid}: {what}. Debezium resumed inside this transaction and numbered the rest of it "
        "anew (dbz#633, with provide.transaction.metadata: Debezium before 3.6.1, and 3.6.1 and later when "
        "PostgreSQL re-sends transactions committed meanwhile), so its events from before the restart cannot be "
        "told apart from the rest; stopping. The way out (README, 'Debezium restarting "
        "inside a transaction'): run Kafka Connect with the fix, then rebuild from a new snapshot."
    )
