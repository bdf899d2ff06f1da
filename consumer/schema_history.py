"""The source definitions a fresh replica starts from, read from the schema-changes topic.

A replica table the consumer has no stored definition for (a first start, a
rebuild) must mirror the table as it was where the topics start, not as it is
now: the topics may still hold changes from before a later ALTER. The
schema-changes topic (one partition, so in order) holds every definition the
source recorded: its snapshot rows ('r') are those the connector's snapshot
saw, the latest of which is the shape of that snapshot's rows; later ones are
streamed ('c') with the transactions around them, and the consumer applies
them in order (consumer.schema). A table without snapshot rows (its first
definition was recorded after the snapshot, like the migration's baseline on
an older connector) starts from its first streamed one.

The connector may not have written anything yet when the consumer starts: it
then waits, saying what for, as it waits for MySQL or the broker.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from consumer.errors import ConsumerError
from core.envelope import EnvelopeError, decode_envelope
from core.schema_change import schema_row
from core.source.catalog import CatalogError, CatalogTable
from core.topic_names import SCHEMA_CHANGES_TABLE

log = logging.getLogger(__name__)

WAIT_LOG_SECONDS = 10.0
IDLE_SECONDS = 0.5  # a read of the topic ends when nothing more came for this long
Baseline = tuple[int, CatalogTable]  # (version, definition)


def baselines(bootstrap: str, topic: str, tables: Collection[str], stop: threading.Event,
              timeout: float | None = None) -> dict[str, Baseline]:
    """Per table, the definition the topics start with; waits until the topic holds one for each (or `stop`, or
    `timeout` seconds: then those found)."""
    snapshot: dict[str, Baseline] = {}
    streamed: dict[str, Baseline] = {}
    waited_since = started = time.monotonic()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "cdc-schema-history",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        while not stop.is_set():
            _read_what_is_there(consumer, topic, snapshot, streamed)
            found = {table: snapshot.get(table) or streamed[table] for table in tables
                     if table in snapshot or table in streamed}
            if len(found) == len(tables) or (timeout is not None and time.monotonic() - started >= timeout):
                return found
            if time.monotonic() - waited_since >= WAIT_LOG_SECONDS:
                waited_since = time.monotonic()
                log.warning("waiting for the source's definition of %s on %s (has the connector streamed the "
                            "table cdc_schema_changes? migration 0003 records it)",
                            ", ".join(sorted(set(tables) - set(found))), topic)
        return {}
    finally:
        consumer.close()


def _read_what_is_there(consumer: Consumer, topic: str, snapshot: dict[str, Baseline],
                        streamed: dict[str, Baseline]) -> None:
    """Read on until nothing more comes for IDLE_SECONDS. (Not up to the partition's high watermark: the local
    broker reports one per record batch, not per record, so it is below the end.)"""
    while True:
        message = consumer.poll(IDLE_SECONDS)
        if message is None:
            return
        if message.error() is None:
            _note(message.value(), message.offset() or 0, topic, snapshot, streamed)


def _note(value: bytes | None, offset: int, topic: str, snapshot: dict[str, Baseline],
          streamed: dict[str, Baseline]) -> None:
    try:
        envelope = decode_envelope(value, SCHEMA_CHANGES_TABLE)
        if envelope is None or envelope[0] not in ("r", "c"):
            return
        row = schema_row(envelope[2])
        version, definition = row.version, row.definition
    except (EnvelopeError, CatalogError) as exc:
        raise ConsumerError(f"{topic}[0]@{offset} is not a row of cdc_schema_changes ({exc}): the replica's table "
                            "definitions cannot be known; is another producer writing to that topic?") from exc
    kept = snapshot if envelope[0] == "r" else streamed
    held = kept.get(definition.name)
    if held is None or (version > held[0] if kept is snapshot else version < held[0]):
        kept[definition.name] = (version, definition)
