"""Whole source transactions for the marts: Kafka messages -> decoded events of released transactions.

The Faust agent reads the source tables' topics, the heartbeat table's topic
and Debezium's transaction topic; core.transactions holds each event until
its source transaction is complete and every earlier one was released. What
a fetch of messages releases goes to MySQL as one batch (marts.apply.store)
with a SourceMark: the positions it completes (stored in mart_offsets, where
reading resumes: marts.transport) and its last source transaction (the
marts' row of cdc_watermark). So the marts at every commit are their SQL
definitions evaluated on the source as of one source commit.

The schema-changes table's topic is read too, as a collection of the
assembler like any table's: a table's new definition is released in its
DDL's transaction, in commit order. When one changes a column the marts read
beyond what they decode exactly (marts.source_fit), the marts pause
(marts.pause): the work of that fetch ends with the transactions before it,
its mark carries the pause (stored in the same MySQL transaction) and no
position past those transactions' events, and every later fetch releases nothing.

The assembler lives as long as the worker: after a rebalance Faust reads each
partition again from the positions stored in MySQL, and the assembler
ignores what it already holds (core.transactions: offsets below the next
expected one).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from core.deadletter import DeadLetter, RawMessage
from core.topic_names import data_collection, heartbeat_topic, schema_changes_topic, transaction_topic
from core.transactions import (
    Assembler,
    Released,
    Transaction,
    TransactionMetadataError,
    TxEnd,
    commit_us,
    parse_end,
)
from core.watermark import SourcePoint
from marts.apply.batch import SourceMark
from marts.events import (
    Event,
    MalformedEvent,
    Position,
    SchemaDefinition,
    decode,
    decode_heartbeat,
    decode_schema_change,
)
from marts.pause import Pause
from marts.source_fit import SourceShapes


@dataclass
class Work:
    """One batch for the store: the released transactions' events, in commit order, and what they complete."""

    events: list[Event] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)  # undecodable messages, sent before the commit
    raws: dict[Position, RawMessage] = field(default_factory=dict)  # for dead-lettering what MySQL refuses
    mark: SourceMark | None = None


class MartsAssembly:
    def __init__(self, topic_prefix: str, tables: dict[str, str], released_lsn: int,
                 paused: Pause | None = None) -> None:
        """`tables`: each source table's topic -> the table; `paused`: the marts' stored pause (then every fetch
        releases nothing)."""
        self.tables = tables
        self.heartbeats = heartbeat_topic(topic_prefix)
        self.schema_changes = schema_changes_topic(topic_prefix)
        self.transactions = transaction_topic(topic_prefix)
        collections = [data_collection(topic, topic_prefix) for topic in [*tables, self.heartbeats,
                                                                           self.schema_changes]]
        self.assembler: Assembler[tuple[Event, RawMessage]] = Assembler(collections, released_lsn)
        self.shapes = SourceShapes()
        self.paused = paused

    def topics(self) -> list[str]:
        return [*self.tables, self.heartbeats, self.schema_changes, self.transactions]

    def take(self, messages: Sequence[Any]) -> Work | None:
        """Feed a fetch of Faust's messages; the work they release, or None when nothing moved (or paused
        before)."""
        if self.paused is not None:
            return None
        work = Work()
        released: list[Released[tuple[Event, RawMessage]]] = []
        for message in messages:
            raw = RawMessage(message.topic, message.partition, message.offset, message.key, message.value)
            where = (raw.topic, raw.partition)
            if raw.topic == self.transactions:
                released += self.assembler.add_end(where, raw.offset, self._end(raw, work))
            else:
                event = self._decode(raw, Position(raw.topic, raw.partition, raw.offset))
                released += self.assembler.add(where, raw.offset, event.tag, (event, raw))
        point, pause = None, None
        for item in released:
            if isinstance(item, Transaction):
                pairs: Sequence[tuple[Event, RawMessage]] = item.items
                pause = self._misfit(item)
                if pause is not None:
                    break  # nothing of it or after it
                point = SourcePoint(item.commit_lsn, item.xid, commit_us(item, lambda pair: pair[0].commit_us))
            elif item.item[0].change is not None:  # a snapshot read
                pairs = [item.item]
            else:  # a tombstone or an undecodable message: nothing to apply, its offset counts by the mark
                self._letter(*item.item, work)
                continue
            for event, raw in pairs:
                if self._letter(event, raw, work):
                    continue
                work.events.append(event)
                work.raws[event.position] = raw
        if not released and not work.letters:
            return None
        positions = {where: position - 1 for where, position in self.assembler.positions().items()}
        # Paused, only the offsets of the events applied are stored: the assembler's are past the pause.
        work.mark = SourceMark(positions if pause is None else {}, point, pause)
        self.paused = pause
        return work

    def _misfit(self, transaction: Transaction[tuple[Event, RawMessage]]) -> Pause | None:
        """The pause a transaction's new definitions call for, if any (every definition is checked: each becomes
        its table's latest)."""
        found = []
        for event, _ in transaction.items:
            if isinstance(event.change, SchemaDefinition):
                row = event.change.row
                found += [(row, misfit) for misfit in self.shapes.check(row.definition)]
        if not found:
            return None
        row, first = found[0]
        return Pause(first.table, first.column, "; ".join(str(misfit) for _, misfit in found), row.version,
                     transaction.xid, transaction.commit_lsn, row.statement)

    @staticmethod
    def _letter(event: Event, raw: RawMessage, work: Work) -> bool:
        """A released event that cannot be applied becomes a dead letter (only once released: the changes of a
        source transaction the marts pause at, in a shape they do not read, are never letters)."""
        if event.malformed is None:
            return False
        work.letters.append(DeadLetter(raw, event.malformed, "decode"))
        return True

    def _decode(self, raw: RawMessage, position: Position) -> Event:
        try:
            if raw.topic == self.heartbeats:
                return decode_heartbeat(position, raw.value)
            if raw.topic == self.schema_changes:
                return decode_schema_change(position, raw.value)
            return decode(position, self.tables[raw.topic], raw.value)
        except MalformedEvent as exc:
            # In its transaction when the envelope said which (the transaction counts it), else loose.
            return Event(position, None, tag=exc.tag, malformed=str(exc))

    @staticmethod
    def _end(raw: RawMessage, work: Work) -> TxEnd | None:
        try:
            return parse_end(orjson.loads(raw.value or b"null"))
        except (ValueError, TransactionMetadataError) as exc:  # orjson.JSONDecodeError is a ValueError
            work.letters.append(DeadLetter(raw, f"not a transaction metadata event: {exc}", "decode"))
            return None
