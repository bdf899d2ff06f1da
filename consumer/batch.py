"""The pending batch: the last change per primary key, per table, plus where each partition got to.

Coalescing keeps per-key order: a key's later change replaces its earlier
one, and keys are independent of each other (the replica has no foreign
keys or unique indexes besides the primary key). A truncate drops what the
batch holds for its table from before it in the source (lsn below the
truncate's; core.truncation), whichever partition it came from, and later
changes from before it are not taken; the batch keeps its table's highest
truncate, applied first when the batch is written.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from consumer.envelope import ChangeEvent, Decoded, DecodeError, Key
from consumer.replica_schema import StoredSchema, TableSpec
from core.deadletter import DeadLetter
from core.records import Record
from core.transactions import Released, Transaction, commit_us
from core.truncation import raised, survives
from core.watermark import SourcePoint


class Action(Record, frozen=True):
    event: ChangeEvent
    delete: bool  # delete the key; otherwise upsert event.row


@dataclass
class TableChanges:
    truncate_lsn: int | None = None  # the batch's highest truncate of the table
    actions: dict[Key, Action] = field(default_factory=dict)

    @property
    def truncate(self) -> bool:
        return self.truncate_lsn is not None

    def add(self, event: ChangeEvent) -> None:
        if event.is_truncate:
            self.truncate_lsn = raised(self.truncate_lsn, event.lsn)
            self.actions = {key: action for key, action in self.actions.items()
                            if survives(action.event.lsn, self.truncate_lsn)}
            return
        if not survives(event.lsn, self.truncate_lsn):
            return
        assert event.key is not None
        if event.old_key is not None:
            self.actions.pop(event.old_key, None)
            self.actions[event.old_key] = Action(event, delete=True)
        self.actions.pop(event.key, None)  # re-insert: dict order follows the latest change
        self.actions[event.key] = Action(event, delete=event.is_delete)

    def live(self, watermark: int | None) -> list[Action]:
        """The actions a truncate applied before the batch (at `watermark`) leaves standing."""
        if watermark is None:
            return list(self.actions.values())
        return [action for action in self.actions.values() if survives(action.event.lsn, watermark)]

    def deletes(self, watermark: int | None = None) -> list[Action]:
        return [action for action in self.live(watermark) if action.delete]

    def upserts(self, watermark: int | None = None) -> list[Action]:
        return [action for action in self.live(watermark) if not action.delete]


@dataclass(frozen=True)
class SchemaStep:
    """A replica table's new definition (consumer.schema): its ALTER runs before the batch's MySQL transaction,
    and `stored` is written in it."""

    table: str
    version: int
    alter: str | None
    stored: StoredSchema
    tighten: str | None = None  # runs after the batch's transaction (consumer.schema.Evolution)
    recreate: str | None = None  # CREATE TABLE of a paused table made anew, after dropping it (consumer.schema)
    marker: str | None = None  # the recreated table's comment: there, it was made anew already


@dataclass
class Batch:
    # The replica tables its rows are for, by name: the consumer's at the batch's start, changed by its steps.
    specs: dict[str, TableSpec] = field(default_factory=dict)
    schema_steps: list[SchemaStep] = field(default_factory=list)
    tables: dict[str, TableChanges] = field(default_factory=dict)
    # Per partition, the last message outside any transaction it holds (consumer.replica_schema.LOOSE_OFFSETS).
    loose: dict[tuple[str, int], int] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # Per partition, the last offset the batch completes: everything up to it is in this batch or an
    # earlier one (set when the batch is cut, from core.transactions' positions; a message's own offset
    # says nothing of the partition's messages before it, which may be held by a later transaction).
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    messages: int = 0
    changes: int = 0
    transactions: int = 0  # source transactions, whole
    source_point: SourcePoint | None = None  # the last source transaction in the batch (core.watermark)
    first_lsn: int | None = None  # the commit LSN of the batch's first source transaction
    source_ms: list[int] = field(default_factory=list)  # source commit times of its changes and heartbeats
    started: float = field(default_factory=time.monotonic)

    def add_released(self, released: Released[Decoded]) -> None:
        """A whole source transaction (or a message outside any), as core.transactions released it."""
        if not isinstance(released, Transaction):
            self.add(released.item)
            raw = released.item.raw
            self.loose[(raw.topic, raw.partition)] = raw.offset  # released in partition order
            return
        for item in released.items:
            self.add(item)
        self.transaction_taken(released)

    def transaction_taken(self, released: Transaction[Decoded]) -> None:
        """Every item of the transaction was added: the batch completes it."""
        self.transactions += 1
        if self.first_lsn is None:
            self.first_lsn = released.commit_lsn
        self.source_point = SourcePoint(released.commit_lsn, released.xid,
                                        commit_us(released, lambda item: getattr(item, "commit_us", None)))

    def add(self, decoded: Decoded) -> None:
        self.messages += 1
        if isinstance(decoded, DecodeError):
            self.dead_letters.append(DeadLetter(decoded.raw, decoded.error, "decode"))
        else:
            if decoded.commit_us is not None:
                self.source_ms.append(decoded.commit_us // 1000)
            if isinstance(decoded, ChangeEvent):
                changes = self.tables.get(decoded.table)
                if changes is None:
                    changes = self.tables[decoded.table] = TableChanges()
                changes.add(decoded)
                self.changes += 1

    def evolve(self, step: SchemaStep, spec: TableSpec) -> None:
        """`step` runs before the batch's transaction: the table's rows held so far (of its DDL's transaction, from
        before the DDL) are mapped onto the new `spec` (spec.earlier: by attribute number, consumer.schema)."""
        self.schema_steps.append(step)
        before, self.specs[step.table] = self.specs[step.table], spec
        changes = self.tables.get(step.table)
        if changes is None:
            return
        for key, action in changes.actions.items():
            if action.event.row is not None:
                row = dict(zip(before.column_names, action.event.row, strict=True))
                mapped = tuple([row[source] if source is not None else spec.earlier.filled[name]
                                for name, source in ((name, spec.earlier.sources[name]) for name in spec.column_names)])
                changes.actions[key] = Action(msgspec.structs.replace(action.event, row=mapped), action.delete)

    def age(self) -> float:
        return time.monotonic() - self.started

    def __bool__(self) -> bool:  # a transaction without changes for the replica still moves the watermark
        return self.messages > 0 or self.source_point is not None

    def actions(self) -> int:
        return sum(len(table.actions) + table.truncate for table in self.tables.values())
