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

A table added to the publication is also read by a later initial snapshot
(connectors.publication lists those whose addition the source recorded):
`snapshot_publications` tells the consumer which, with the definition that
snapshot saw, so that it makes their replica tables too.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from consumer.errors import ConsumerError
from core.envelope import EnvelopeError, decode_envelope
from core.schema_change import schema_row
from core.source.catalog import PUBLICATION_COMMAND, CatalogError, CatalogTable
from core.topic_names import SCHEMA_CHANGES_TABLE

log = logging.getLogger(__name__)

WAIT_LOG_SECONDS = 10.0
IDLE_SECONDS = 0.5  # a read of the topic ends when nothing more came for this long
READ_TIMEOUT_SECONDS = 30.0
Baseline = tuple[int, CatalogTable]  # (version, definition)


@dataclass
class _History:
    """What the schema-changes topic holds, per table."""

    snapshot: dict[str, Baseline] = field(default_factory=dict)  # the latest snapshot row
    streamed: dict[str, Baseline] = field(default_factory=dict)  # the first streamed row
    published: set[str] = field(default_factory=set)  # tables with a snapshot row of their addition to the publication

    def baseline(self, table: str) -> Baseline | None:
        return self.snapshot.get(table) or self.streamed.get(table)


def baselines(bootstrap: str, topic: str, tables: Collection[str], stop: threading.Event) -> dict[str, Baseline]:
    """Per table, the definition the topics start with; waits until the topic holds one for each (or `stop`)."""
    history = _History()
    waited_since = time.monotonic()
    with _reader(bootstrap, topic) as consumer:
        while not stop.is_set():
            _read_what_is_there(consumer, topic, history)
            found = {table: baseline for table in tables if (baseline := history.baseline(table)) is not None}
            if len(found) == len(tables):
                return found
            if time.monotonic() - waited_since >= WAIT_LOG_SECONDS:
                waited_since = time.monotonic()
                log.warning("waiting for the source's definition of %s on %s (has the connector streamed the "
                            "table cdc_schema_changes? migration 0003 records it)",
                            ", ".join(sorted(set(tables) - set(found))), topic)
        return {}


def snapshot_publications(bootstrap: str, topic: str) -> dict[str, Baseline]:
    """The tables added to the publication that the connector's initial snapshot read, each with the definition it
    saw. The snapshot reads cdc_schema_changes before any added table (connectors/postgres-source.json), so these
    rows are on the topic before the first row of such a table is consumed."""
    history = _History()
    with _reader(bootstrap, topic) as consumer:
        try:
            start, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=READ_TIMEOUT_SECONDS)
        except KafkaException as exc:
            raise _unread(topic, str(exc)) from exc
        if start < end and _read_what_is_there(consumer, topic, history, at_least=end) < end:
            raise _unread(topic, f"its records up to offset {end} did not come within {READ_TIMEOUT_SECONDS:g} s")
    return {table: history.snapshot[table] for table in history.published}


def _unread(topic: str, why: str) -> ConsumerError:
    # Stopping is safe: nothing after the table's change was applied, and a restart reads it again.
    return ConsumerError(f"cannot read {topic} for the definitions of the tables the connector's snapshot read: "
                         f"{why}")


@contextmanager
def _reader(bootstrap: str, topic: str) -> Iterator[Consumer]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "cdc-schema-history",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        yield consumer
    finally:
        consumer.close()


def _read_what_is_there(consumer: Consumer, topic: str, history: _History, at_least: int = 0) -> int:
    """Read on until nothing more comes for IDLE_SECONDS, once the consumer's position is past offset `at_least` (a
    fresh consumer's first polls can come back empty before its first fetch) or READ_TIMEOUT_SECONDS passed; the
    position reached. (Not only up to the partition's high watermark: the local broker reports one per record
    batch, not per record, so it is below the end.)"""
    deadline = time.monotonic() + READ_TIMEOUT_SECONDS
    while True:
        message = consumer.poll(IDLE_SECONDS)
        if message is None:
            reached = consumer.position([TopicPartition(topic, 0)])[0].offset  # past control records too
            if at_least <= 0 or reached >= at_least or time.monotonic() >= deadline:
                return reached
            continue
        if message.error() is None:
            _note(message.value(), message.offset() or 0, topic, history)


def _note(value: bytes | None, offset: int, topic: str, history: _History) -> None:
    try:
        envelope = decode_envelope(value, SCHEMA_CHANGES_TABLE)
        if envelope is None or envelope.op not in ("r", "c"):
            return
        row = schema_row(envelope.after)
        version, definition = row.version, row.definition
    except (EnvelopeError, CatalogError) as exc:
        raise ConsumerError(f"{topic}[0]@{offset} is not a row of cdc_schema_changes ({exc}): the replica's table "
                            "definitions cannot be known; is another producer writing to that topic?") from exc
    snapshot = envelope.op == "r"
    kept = history.snapshot if snapshot else history.streamed
    held = kept.get(definition.name)
    if held is None or (version > held[0] if snapshot else version < held[0]):
        kept[definition.name] = (version, definition)
    if snapshot and row.command == PUBLICATION_COMMAND:
        history.published.add(definition.name)
