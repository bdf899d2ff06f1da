"""`cdc backfill`: re-read tables from the source into the running pipeline (Debezium's incremental snapshots).

Why Debezium's incremental snapshot rather than our own copy: it reads a table
in primary-key chunks into the same topics as the live changes, and its
window marks (the DBLog algorithm) drop a chunk's row when a live change of
that row arrives while the chunk is read, so a re-read row never overwrites a
newer change. The replica and the marts apply the reads as upserts, like any
snapshot read; the replica's rows deleted or damaged by hand come back, the
rest is rewritten with the same values. Its position is kept in the
connector's offsets, so a Connect restart resumes it where it was.

It is asked for with a row in the source's signal table (migration 0004); the
connector reports its progress on its notification topic, each notification
keyed by the signal's id: STARTED, IN_PROGRESS per chunk (the chunk's last key
and the table's largest key when the table started), TABLE_SCAN_COMPLETED per
table, COMPLETED.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from psycopg2 import sql

from core.errors import ConnectorError
from core.settings import SourceSettings
from core.source.catalog import read_definition
from core.topic_names import SIGNALS_TABLE


@dataclass(frozen=True)
class TableProgress:
    table: str
    done: int  # rows read so far (rows with a key up to the last chunk's)
    total: int  # rows with a key up to the table's largest when its read started
    finished: bool = False


def request(source: SourceSettings, tables: Sequence[str]) -> str:
    """Ask the connector for an incremental snapshot of `tables`; the signal's id."""
    signal = f"backfill-{uuid.uuid4()}"
    data = json.dumps({"data-collections": [f"public.{table}" for table in tables], "type": "incremental"})
    try:
        conn = psycopg2.connect(source.dsn)
        try:
            with conn, conn.cursor() as cur:
                for table in tables:
                    read_definition(cur, table)  # CatalogError for a table the source does not have
                unpublished = _unpublished(cur, tables)
                if unpublished:
                    raise ConnectorError(f"{', '.join(unpublished)} not in the publication cdc_publication: the "
                                         "connector would read the rows but no later change (ALTER PUBLICATION "
                                         "cdc_publication ADD TABLE ..., and REPLICA IDENTITY FULL, first)")
                cur.execute(f"INSERT INTO {SIGNALS_TABLE} (id, type, data) VALUES (%s, 'execute-snapshot', %s)",
                            (signal, data))
        finally:
            conn.close()
    except psycopg2.Error as exc:
        raise ConnectorError(f"cannot signal the connector through {SIGNALS_TABLE} (PG_DSN): {exc}".strip()) from exc
    return signal


def _unpublished(cur: Any, tables: Sequence[str]) -> list[str]:
    cur.execute("SELECT tablename FROM pg_publication_tables WHERE pubname = 'cdc_publication'"
                " AND schemaname = 'public'")
    published = {name for (name,) in cur.fetchall()}
    return [table for table in tables if table not in published]


def follow(bootstrap: str, topic: str, signal: str, source: SourceSettings,
           on_progress: Callable[[TableProgress], None], timeout: float) -> None:
    """Report the backfill's progress until the connector says it completed; ConnectorError after `timeout` s."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"cdc-backfill-{uuid.uuid4()}",
                         "enable.auto.commit": False})
    deadline = time.monotonic() + timeout
    counter = _RowCounter(source)
    try:
        _assign_from_start(consumer, topic)
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error() is not None or _signal_of(message.key()) != signal:
                continue
            notification = json.loads(message.value() or b"{}")
            kind, data = notification.get("type"), notification.get("additional_data") or {}
            if kind == "COMPLETED":
                return
            if kind in ("ABORTED", "PAUSED"):
                raise ConnectorError(f"the connector reports the backfill {signal} {kind.lower()}: {data}")
            progress = counter.progress(kind, data)
            if progress is not None:
                on_progress(progress)
    finally:
        counter.close()
        consumer.close()
    raise ConnectorError(f"the backfill {signal} did not complete within {timeout:.0f} s; it goes on in the "
                         f"connector (see its notifications on {topic})")


def _assign_from_start(consumer: Consumer, topic: str) -> None:
    """The topic's partitions from their start (the local broker's end offsets are not exact; a signal's id is
    new, so nothing older matches it)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        except KafkaException as exc:
            raise ConnectorError(f"cannot read the connector's notifications on {topic}: {exc}") from exc
        if partitions:
            consumer.assign([TopicPartition(topic, number, OFFSET_BEGINNING) for number in partitions])
            return
        if time.monotonic() >= deadline:  # the connector creates it with its first notification
            raise ConnectorError(f"the connector's notification topic {topic} does not exist: is the connector "
                                 "configured by this version (cdc connectors apply)?")
        time.sleep(1.0)


def _signal_of(key: bytes | None) -> str | None:
    try:
        signal = json.loads(key or b"{}").get("id")
    except (ValueError, AttributeError):
        return None
    return signal if isinstance(signal, str) else None


class _RowCounter:
    """Rows done and total of a table's read, from the keys a notification names (single-column integer keys;
    other keys count chunks only)."""

    def __init__(self, source: SourceSettings) -> None:
        self._conn = psycopg2.connect(source.dsn)
        self._conn.autocommit = True
        self._totals: dict[str, int] = {}

    def progress(self, kind: str | None, data: dict[str, Any]) -> TableProgress | None:
        if kind == "TABLE_SCAN_COMPLETED":
            table = str(data.get("scanned_collection", "")).removeprefix("public.")
            total = self._totals.get(table, 0)
            return TableProgress(table, total, total, finished=True)
        if kind != "IN_PROGRESS" or "last_processed_key" not in data:
            return None
        table = str(data.get("current_collection_in_progress", "")).removeprefix("public.")
        if table not in self._totals:
            self._totals[table] = self._rows_up_to(table, data.get("maximum_key"))
        done = self._rows_up_to(table, data.get("last_processed_key"))
        return TableProgress(table, min(done, self._totals[table]), self._totals[table])

    def _rows_up_to(self, table: str, key: object) -> int:
        with self._conn.cursor() as cur:
            definition = read_definition(cur, table)
            number = _integer_key(key)
            if len(definition.key) != 1 or number is None:
                return 0
            cur.execute(sql.SQL("SELECT count(*) FROM public.{} WHERE {} <= %s").format(
                sql.Identifier(table), sql.Identifier(definition.key[0])), (number,))
            row = cur.fetchone()
            return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()


def _integer_key(key: object) -> int | None:
    text = str(key).strip("[]")
    return int(text) if text.lstrip("-").isdigit() else None
