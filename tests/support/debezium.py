"""Debezium-shaped change events made by hand, for topics a test fills itself."""
from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Producer

from core.source.catalog import catalog_of
from core.source.tables import TABLES
from core.topic_names import SCHEMA_CHANGES_TABLE, SOURCE_SCHEMA, schema_changes_topic
from core.topics import ensure_schema_changes_topic

_next_lsn = itertools.count(time.time_ns() // 1000)  # increasing across a test session, like the WAL


def envelope(table: str, op: str, before: Any, after: Any, lsn: int | None = None,
             transaction: dict[str, Any] | None = None, commit_us: int | None = None,
             snapshot: str | None = None) -> bytes:
    """A Debezium-shaped value; `lsn` (source.lsn) defaults to the next of an increasing counter.

    `transaction`: the event's `transaction` block (provide.transaction.metadata); `commit_us`: source.ts_us
    (and ts_ms), the source's commit time; `snapshot`: source.snapshot ("incremental" for a backfill's read)."""
    source: dict[str, Any] = {"table": table, "lsn": next(_next_lsn) if lsn is None else lsn}
    if commit_us is not None:
        source |= {"ts_us": commit_us, "ts_ms": commit_us // 1000}
    if snapshot is not None:
        source["snapshot"] = snapshot
    event: dict[str, Any] = {"op": op, "before": before, "after": after, "source": source,
                             "ts_ms": int(time.time() * 1000)}
    if transaction is not None:
        event["transaction"] = transaction
    return json.dumps(event).encode()


@dataclass(frozen=True)
class Change:
    """One row change of a hand-made source transaction, on the partition the test chooses."""

    table: str
    op: str  # c, u or d
    key: dict[str, Any]
    row: dict[str, Any]  # after (c, u) or before (d)
    partition: int


@dataclass(frozen=True)
class Message:
    """What to produce: topic (without the prefix: "public.orders" or "transaction"), partition, key, value."""

    collection: str
    partition: int
    key: bytes
    value: bytes | None


@dataclass(frozen=True)
class SourceTransaction:
    """A source transaction as Debezium writes it: BEGIN, its events tagged "<xid>:<lsn>" with total_order
    1..N, END with the commit LSN and the count per table (connectors/postgres-source.json's metadata)."""

    xid: int
    commit_lsn: int
    commit_us: int
    changes: tuple[Change, ...]

    def lsn(self, index: int) -> int:
        """The WAL position of the index-th change: below the commit LSN, increasing."""
        return self.commit_lsn - 10 * (len(self.changes) - index)

    def events(self) -> list[Message]:
        """The data messages, each delete followed by its tombstone."""
        messages = []
        for index, change in enumerate(self.changes):
            lsn = self.lsn(index)
            before, after = (change.row, None) if change.op == "d" else (None, change.row)
            value = envelope(change.table, change.op, before, after, lsn=lsn, commit_us=self.commit_us,
                             transaction={"id": f"{self.xid}:{lsn}", "total_order": index + 1,
                                          "data_collection_order": index + 1})
            topic, key = f"{SOURCE_SCHEMA}.{change.table}", json.dumps(change.key).encode()
            messages.append(Message(topic, change.partition, key, value))
            if change.op == "d":  # tombstones.on.delete: outside any transaction
                messages.append(Message(topic, change.partition, key, None))
        return messages

    def begin(self) -> Message:
        first = self.lsn(0)
        return self._metadata({"status": "BEGIN", "id": f"{self.xid}:{first}", "event_count": None,
                               "data_collections": None})

    def end(self) -> Message:
        counts = Counter(f"{SOURCE_SCHEMA}.{change.table}" for change in self.changes)
        return self._metadata({"status": "END", "id": f"{self.xid}:{self.commit_lsn}",
                               "event_count": len(self.changes),
                               "data_collections": [{"data_collection": name, "event_count": count}
                                                    for name, count in counts.items()]})

    def whole(self) -> list[Message]:
        """BEGIN, the events, END: what the connector writes for a transaction it streams completely."""
        return [self.begin(), *self.events(), self.end()]

    def _metadata(self, value: dict[str, Any]) -> Message:
        value["ts_ms"] = self.commit_us // 1000
        return Message("transaction", 0, json.dumps({"id": value["id"]}).encode(), json.dumps(value).encode())


def backfill_read(change: Change, lsn: int) -> Message:
    """A read of an incremental snapshot (`cdc backfill`): outside any transaction, at the window's `lsn`."""
    return Message(f"{SOURCE_SCHEMA}.{change.table}", change.partition, json.dumps(change.key).encode(),
                   envelope(change.table, "r", None, change.row, lsn=lsn, snapshot="incremental"))


def snapshot_read(change: Change) -> Message:
    """A read of the connector's initial snapshot: outside any transaction."""
    return Message(f"{SOURCE_SCHEMA}.{change.table}", change.partition, json.dumps(change.key).encode(),
                   envelope(change.table, "r", None, change.row, snapshot="true"))


def transaction(xid: int, commit_lsn: int, changes: Sequence[Change]) -> SourceTransaction:
    """A hand-made source transaction committed now (its commit time in microseconds)."""
    return SourceTransaction(xid, commit_lsn, time.time_ns() // 1000, tuple(changes))


def produce_schema_baselines(bootstrap: str, topic_prefix: str) -> None:
    """What a connector's snapshot writes to the schema-changes topic: each shop table's definition as the
    migrations create it ('r' rows of cdc_schema_changes), so that a consumer of hand-filled topics knows its
    tables (consumer.schema_history)."""
    ensure_schema_changes_topic(bootstrap, topic_prefix, 1)
    producer = Producer({"bootstrap.servers": bootstrap})
    for version, table in enumerate(TABLES.values(), start=1):
        row = {"id": version, "table_name": table.name, "command": "BASELINE",
               "definition": catalog_of(table).to_json(), "captured_at": "2026-01-01T00:00:00Z"}
        producer.produce(schema_changes_topic(topic_prefix), key=json.dumps({"id": version}).encode(),
                         value=envelope(SCHEMA_CHANGES_TABLE, "r", None, row), partition=0)
    assert producer.flush(30) == 0
