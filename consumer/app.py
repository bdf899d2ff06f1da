"""The poll loop: consume -> decode -> reassemble transactions -> batch -> write to MySQL -> dead letters -> commit.

Source transactions, whole and in commit order (core.transactions): the
table topics, the heartbeat table's topic and Debezium's transaction topic
are consumed together; a change goes into a batch only with the rest of its
source transaction, once that transaction's END was read and every earlier
transaction was taken. A batch holds whole transactions (several, for
throughput) and is one MySQL transaction, which also moves the replica's row
of cdc_watermark (core.watermark) to its last transaction: a reader never
sees part of a source transaction, and knows which source commit it sees.

At-least-once delivery, applied exactly once: a batch's offsets (per
partition, the first message not yet taken: core.transactions' positions)
are committed, synchronously, only after its MySQL transaction committed and
its dead letters were confirmed by the broker. A re-read after a crash
assembles the same transactions again; those at or below the watermark are
skipped, so the replica never steps back to an older state.

Source schema changes (consumer.schema): the topic of the source's
cdc_schema_changes table is consumed with the others, so a table's new
definition is released between the transactions before and after its DDL.
It evolves the replica table for the batch it falls in (its ALTER runs before
that batch's transaction), and what was decoded before it (in the batch, in
the assembler, in the rest of what was released with it) is decoded again
against the new table. A table that cannot follow pauses: its changes are
skipped, the others go on. The definitions as of what is committed are kept
apart: what is abandoned (a rebalance, a lost partition) is read again with
them.

Pipelining: one writer thread writes a batch (MySQL transaction, then its
dead letters) while this thread consumes and decodes the next one. At most
one batch is in flight and batches are written in consumption order; the
offsets of a batch are committed here, once its write has finished.

MySQL unreachable: the batch is kept, every assigned partition is paused
and the loop keeps calling consume() (which serves heartbeats and keeps
max.poll.interval.ms satisfied), retrying the write with exponential backoff
(0.5 s .. 10 s). When the write succeeds the partitions are resumed. No
crash loop, nothing lost.

Rebalances (eager "range" assignor: every partition is revoked): the
revoke callback writes and commits the pending batch; if MySQL is down it
abandons the batch, uncommitted, and whoever owns each partition next
re-reads it from the last committed offset. Lost partitions (session
expired) drop the batch without committing. Either way nothing is left to
retry, so the backoff ends. librdkafka keeps a partition paused across a
reassignment, so the assign callback pauses or resumes exactly the assigned
partitions by the current state (after a revoke: resumed; if MySQL is still
down the re-read batch fails and pauses them again).

Recreated source topics (consumer.generations): the topics' ids (those of
tables added to the publication too) are checked at start and every 10 s
(consumer.generation_watch); a recorded topic with a new id stops the run
with TopicsRecreated. Partitions listed to be re-read
(after `--adopt-topics` or `--rebuild`) are read from their log start at
assignment, and taken off the list by their first commit.

Retention gaps (consumer.gaps): an assigned partition whose committed
offset is below its log start (or, never committed, whose log does not
start at 0) stops the run with RetentionGapError instead of skipping the
deleted changes.

Heartbeats: the topic of Debezium's heartbeat table is consumed with the
source topics; nothing is applied from it (its offsets are committed with
the batch), but its source commit time keeps the lag in seconds current
while the shop is idle (consumer.stats, core.metrics). It is no source of
the replica: the topic-id and retention-gap checks leave it out (a gap in
it loses nothing).

One active consumer per replica (core.leader): run() first takes the
replica's MySQL lock, waiting as a hot standby while another consumer holds
it, before it subscribes (a standby never joins the group: it would split the
partitions that transactions need whole). A standby that takes over starts
like a restarted consumer, from the committed offsets and the watermark. If
the lock is lost to another instance, or the sink finds the watermark already
past a batch (another writer applied it), the run ends with an error at once:
nothing more is written or committed (its supervisor restarts it as a standby).

SIGTERM/SIGINT set `stop`: the loop ends, the pending batch gets a last
attempt of a few seconds (abandoned if MySQL is down: nothing was
committed for it), the consumer leaves its group, and the run returns.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import orjson
from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, Consumer, KafkaError, Message, TopicPartition

from consumer import gaps, generations, offsets
from consumer.batch import Batch, SchemaStep
from consumer.envelope import (
    BackfillSignal,
    ChangeEvent,
    Decoded,
    DecodeError,
    SchemaChange,
    Skip,
    decode,
    decode_heartbeat,
    decode_schema_change,
    decode_signal,
    follows_lsn,
)
from consumer.errors import ConsumerError, TopicsRecreated, WatermarkAhead
from consumer.generation_watch import GenerationWatch
from consumer.health import ConsumerHeartbeat
from consumer.replica_schema import StoredSchema, TableSpec
from consumer.schema import (
    TableSchema,
    evolve,
    published_comment,
    recreate,
    recreated_comment,
    snapshotted_comment,
)
from consumer.schema_history import baselines, snapshot_publications
from consumer.settings import ConsumerSettings
from consumer.sink import MySqlSink
from consumer.stats import Stats, serve_metrics, update_lag
from core.deadletter import DeadLetter, DeadLetterError, DeadLetterProducer, RawMessage
from core.errors import CdcError, LeadershipLost, MySqlUnavailable
from core.leader import Leadership
from core.mysql import Backoff
from core.source.catalog import ALTER_COMMAND
from core.topic_names import topic_table
from core.topics import ensure_schema_changes_topic, ensure_signals_topic, ensure_transaction_topic, topic_ids
from core.transactions import Assembler, Loose, Released, Transaction, TransactionMetadataError, TxEnd, parse_end
from core.watermark import REPLICA_STAGE

log = logging.getLogger(__name__)
T = TypeVar("T")

CONSUME_MAX = 1000  # messages per consume() call
SHUTDOWN_FLUSH_SECONDS = 5.0
# Decoding allocates a few objects per message: with Python's default first threshold (700) the
# collector ran hundreds of times per batch, ~10% of the decode time. Still bounded, just rarer.
GC_THRESHOLDS = (20_000, 20, 20)
REVOKE_FLUSH_SECONDS = 5.0
IN_FLIGHT_POLL_SECONDS = 0.002
REPLAY_COMMIT_SECONDS = 1.0
LAG_REFRESH_SECONDS = 1.0  # the lag in messages of the metrics; the log line comes every stats_interval


class Replicator:
    def __init__(self, settings: ConsumerSettings, stats: Stats | None = None,
                 on_batch_committed: Callable[[Batch], None] | None = None,
                 on_consumed: Callable[[int], None] | None = None) -> None:
        """Hooks for measurements such as the end-to-end latency or the drain rate:
        `on_batch_committed(batch)` runs in the writer thread right after the batch's MySQL commit (its
        rows are visible from then on); `on_consumed(count)` runs in the polling thread when a consume()
        call returned `count` messages (one or more), before they are decoded."""
        self.settings = settings
        self.stats = stats or Stats()
        self.on_batch_committed = on_batch_committed
        self.on_consumed = on_consumed
        self.table_of_topic = settings.topics()  # replicated topic -> replica table
        self.topic_of_table = {table: topic for topic, table in self.table_of_topic.items()}
        self.schemas: dict[str, TableSchema] = {}  # by table: set at start (_load_schemas), then evolved
        self.applied_schemas: dict[str, TableSchema] = {}  # ... as of the last batch committed
        self.tables: dict[str, TableSpec] = {}  # by topic: the replica table its changes are decoded for
        self.paused: set[str] = set()  # topics of tables whose changes are not applied (consumer.schema)
        # Tables without a replica table whose addition to the publication the schema-changes topic was searched for
        # (consumer.schema_history.snapshot_publications): once per table and run.
        self.looked_up: set[str] = set()
        self.heartbeat_topic = settings.heartbeat_topic()
        self.transaction_topic = settings.transaction_topic()
        self.schema_topic = settings.schema_changes_topic()
        self.signals_topic = settings.signals_topic()
        self.applied_lsn = -1  # the watermark: commit LSN of the last source transaction applied
        # Every table topic is read (a table added to the publication included): a transaction waits for all of it.
        self.assembler: Assembler[Decoded] = Assembler(None)
        self.drained = False  # the last consume() took everything that was waiting
        self.next_replay_commit = 0.0  # monotonic time
        self.sink = MySqlSink(settings.mysql)
        self.deadletters = DeadLetterProducer(settings.kafka.bootstrap, settings.deadletter_topic,
                                              settings.kafka.replication_factor)
        self.consumer = Consumer({**settings.kafka_config(), "error_cb": self._kafka_error})
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mysql-writer")
        self.batch = Batch()  # filling up
        self.in_flight: tuple[Batch, Future[int]] | None = None  # being written by the writer thread
        self.failed: Batch | None = None  # written before self.batch once MySQL is back
        self.ready: deque[Batch] = deque()  # cut before a schema change, written before self.batch
        self.loose_applied: dict[gaps.Where, int] = {}  # per partition, the last loose message committed
        self.backoff = Backoff(first=0.5)
        self.committed: dict[tuple[str, int], int] = {}  # next offset to read, as committed
        self.heartbeat = ConsumerHeartbeat(settings.health.file)
        self.generations = GenerationWatch(self._check_generations)
        self.rereads: set[gaps.Where] = set()  # read from their log start at assignment (consumer.generations)
        self.assigned_topics: set[str] = set()  # every topic assigned since the start: their ids are checked
        self.lag_refreshed = 0.0  # time.monotonic() of the last refresh of the lag in messages
        self.leader = Leadership(settings.mysql, REPLICA_STAGE, "consumer")

    # --- the loop ---------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        server = (serve_metrics(self.stats, self.settings.metrics_port, self.settings.metrics_host)
                  if self.settings.metrics_port else None)
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            if not self.leader.acquire(stop, self.heartbeat.standby):
                log.info("stopped while waiting as a standby")
                return
            self._connect_sink_at_start(stop)
            stored = self._until_mysql_answers(stop, self.sink.stored_schemas)
            for table in (stored or {}).keys() - self.topic_of_table.keys():  # added to the publication since
                self._replicate(table)  # the first start: their topics' generations are checked with the others
            self._check_generations_at_start(stop)
            self._load_schemas(stop, stored)
            if stop.is_set():
                return
            self.consumer.subscribe([self.settings.table_topics_pattern(), self.transaction_topic],
                                    on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
            log.info("consuming %s (and every table added to the publication later) as group %s; dead letters "
                     "to %s", ", ".join(self.tables), self.settings.group_id, self.settings.deadletter_topic)
            self._loop(stop)
            if not self._write_all(time.monotonic() + SHUTDOWN_FLUSH_SECONDS):
                self._abandon("stopping")
        finally:
            self.generations.close()
            self.consumer.close()
            self.writer.shutdown(wait=True)
            self.deadletters.close()
            self.sink.close()
            self.leader.release()
            if server is not None:
                server.shutdown()
                server.server_close()
        log.info("stopped: %s", self.stats.progress_line())

    def _loop(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.leader.check()
                self._consume_once()
                self._complete(block=self.batch.messages >= self.settings.batch_size)
                self._write_if_due()
                self._refresh_lag()
                self._log_progress()
                self.heartbeat.tick(self)
                self.generations.poll()
        except (LeadershipLost, WatermarkAhead):
            # Another consumer may be writing: nothing more from this one (the close's revoke finds nothing).
            self._abandon("no longer the only consumer")
            raise
        except Exception:
            # A failure the run cannot go on from (MySQL refused a schema change, a bug): nothing read after what
            # failed may be written, or its offsets committed past it (the close's revoke finds nothing).
            self._abandon("stopping on an error")
            raise

    def _connect_sink_at_start(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.applied_lsn = self.sink.applied_lsn()
                self.assembler = Assembler(None, self.applied_lsn)
                break
            except MySqlUnavailable as exc:
                log.warning("%s; retrying in %.1f s", exc, self.backoff.failed())
                stop.wait(self.backoff.delay)
        self.backoff.reset()

    def _check_generations(self) -> None:
        """Records the ids of topics seen the first time, raises TopicsRecreated for a recorded one whose id changed.
        In the generation watch's thread too: the topics are copied in one step each (under the GIL)."""
        replicated = list(self.topic_of_table.values())  # tables added to the publication included
        assigned = list(self.assigned_topics)
        topics = sorted({*self.settings.consumed_topics(), *replicated, *assigned})
        generations.check(self.settings.mysql, topic_ids(self.settings.kafka.bootstrap, topics))

    def _check_generations_at_start(self, stop: threading.Event) -> None:
        """TopicsRecreated before anything is read; waits while the broker or MySQL is unreachable."""
        while not stop.is_set():
            try:
                ensure_transaction_topic(self.settings.kafka.bootstrap, self.settings.kafka.topic_prefix,
                                         self.settings.kafka.replication_factor)
                ensure_schema_changes_topic(self.settings.kafka.bootstrap, self.settings.kafka.topic_prefix,
                                            self.settings.kafka.replication_factor)
                ensure_signals_topic(self.settings.kafka.bootstrap, self.settings.kafka.topic_prefix,
                                     self.settings.kafka.replication_factor)
                self._check_generations()
                self.rereads = generations.pending_rereads(self.settings.mysql)
                break
            except TopicsRecreated:
                raise
            except CdcError as exc:
                log.warning("cannot check the source topics' ids: %s; retrying in %.1f s", exc, self.backoff.failed())
                stop.wait(self.backoff.delay)
        self.backoff.reset()
        if self.rereads:
            log.info("reading %s from the log start (new topic generation)", _describe_where(self.rereads))

    def _load_schemas(self, stop: threading.Event, stored: dict[str, StoredSchema] | None) -> None:
        """Each replica table's definition: `stored` with the watermark, or for a table seen the first time, the
        one its topic starts with (consumer.schema_history); the replica tables are created where missing."""
        loose = self._until_mysql_answers(stop, self.sink.loose_offsets)
        if stored is None or loose is None:
            return
        self.loose_applied = loose
        replicated = set(self.topic_of_table)
        schemas = {table: TableSchema.from_stored(stored[table]) for table in replicated & stored.keys()}
        missing = sorted(replicated - stored.keys())
        if missing:
            log.info("reading the source's definitions of %s from %s", ", ".join(missing), self.schema_topic)
        found = baselines(self.settings.kafka.bootstrap, self.schema_topic, missing, stop) if missing else {}
        first = {table: TableSchema.first(version, definition) for table, (version, definition) in found.items()}
        if stop.is_set():
            return
        self.applied_schemas = {**schemas, **first}
        self._use_applied_schemas()
        for reason in sorted(schema.paused for schema in self.schemas.values() if schema.paused):
            log.error("%s", reason)
        # Stored too: the first definitions, and a pause decided at load (a table an earlier version made under a
        # name of the pipeline's own tables), so that --stats and `cdc verify` report it.
        newly_paused = [schema for table, schema in schemas.items() if schema.paused != stored[table].paused]
        self._until_mysql_answers(stop, lambda: self.sink.start_tables(
            self._replica_tables(), [schema.stored() for schema in (*first.values(), *newly_paused)]))
        self.batch = self._new_batch()

    def _until_mysql_answers(self, stop: threading.Event, call: Callable[[], T]) -> T | None:
        """call(), retried with backoff while MySQL is unavailable; None if `stop` is set first."""
        while not stop.is_set():
            try:
                result = call()
                self.backoff.reset()
                return result
            except MySqlUnavailable as exc:
                log.warning("%s; retrying in %.1f s", exc, self.backoff.failed())
                stop.wait(self.backoff.delay)
        return None

    def _replicate(self, table: str) -> None:
        topic = self.settings.table_topic(table)
        self.table_of_topic[topic] = table
        self.topic_of_table[table] = topic

    def _use_applied_schemas(self) -> None:
        """Decode by the definitions of what is committed (at start, and when what was not is read again)."""
        self.schemas = dict(self.applied_schemas)
        self.tables = {self.topic_of_table[table]: schema.spec for table, schema in self.schemas.items()}
        self.paused = {self.topic_of_table[table] for table, schema in self.schemas.items() if schema.paused}
        for table, schema in self.schemas.items():
            self.stats.table_paused(table, schema.paused)

    def _schemas_committed(self, batch: Batch) -> None:
        for step in batch.schema_steps:
            self.applied_schemas[step.table] = TableSchema.from_stored(step.stored)
        for where, offset in batch.loose.items():
            self.loose_applied[where] = max(offset, self.loose_applied.get(where, -1))

    def _replica_tables(self) -> dict[str, TableSpec]:
        """The replica tables by name (a table paused before its first definition has none)."""
        return {table: schema.spec for table, schema in self.schemas.items() if schema.spec.key}

    def _new_batch(self) -> Batch:
        return Batch(specs=self._replica_tables())

    def _consume_once(self) -> None:
        timeout = 0.1
        if self.batch and not self.backoff.failing:
            timeout = max(min(self.settings.flush_interval - self.batch.age(), 0.1), 0.005)
            if self.in_flight is not None:  # the batch goes to the writer as soon as the write in flight ends
                timeout = IN_FLIGHT_POLL_SECONDS
        wanted = min(CONSUME_MAX, max(self.settings.batch_size - self.batch.messages, 1))
        # poll() wakes up with the first message (consume() would wait for `wanted` or the timeout);
        # then consume() without waiting takes whatever else is already fetched.
        first = self.consumer.poll(timeout)
        messages = [first] if first else []
        if first and wanted > 1:
            messages += self.consumer.consume(num_messages=wanted - 1, timeout=0)
        self.drained = len(messages) < wanted
        if messages and self.on_consumed is not None:  # once per consume() call, not per message
            self.on_consumed(len(messages))
        for message in messages:
            self._take(message)

    def _take(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consume error on %s[%s]: %s", message.topic(), message.partition(), error)
            return
        self._take_raw(RawMessage.of(message))

    def _take_raw(self, raw: RawMessage) -> None:
        where = (raw.topic, raw.partition)
        if raw.topic == self.transaction_topic:
            released = self.assembler.add_end(where, raw.offset, self._transaction_end(raw))
        else:
            decoded: Decoded
            if raw.topic == self.heartbeat_topic:
                decoded = decode_heartbeat(raw)
            elif raw.topic == self.schema_topic:
                decoded = decode_schema_change(raw)
            elif raw.topic == self.signals_topic:
                decoded = decode_signal(raw)
            else:
                decoded = decode(raw, self.tables)
            released = self.assembler.add(where, raw.offset, decoded.tag, decoded, follows_lsn(decoded))
        if released:
            self._admit(released)

    # --- source schema changes (consumer.schema) ------------------------------------

    def _admit(self, released: list[Released[Decoded]]) -> None:
        """Released transactions into the batch, in commit order. One that changes a replicated table's schema
        starts a batch of its own (what came before is written first, to the tables as they were), and its items
        are taken in source order, each schema change evolving its table before the items after it."""
        for position, item in enumerate(released):
            if self._adopt_snapshotted(item):
                released[position:] = [self._decoded_again(later) for later in released[position:]]
                item = released[position]
            if isinstance(item, Transaction) and any(self._recreates(signal) for signal in item.items):
                self._cut()
                self._recreate_paused(item)
                released[position + 1:] = [self._decoded_again(later) for later in released[position + 1:]]
            elif isinstance(item, Transaction) and any(self._evolves(change) for change in item.items):
                self._cut()
                self._admit_schema_transaction(item)
                released[position + 1:] = [self._decoded_again(later) for later in released[position + 1:]]
            else:
                self.batch.add_released(self._applicable(item))

    def _evolves(self, item: Decoded) -> bool:
        if not isinstance(item, SchemaChange):
            return False
        current = self.schemas.get(item.definition.name)
        if current is not None:
            return item.version > current.version
        return item.publishes or self._renamed_away(item) is not None

    def _renamed_away(self, change: SchemaChange) -> str | None:
        """The replicated table the source renamed to the change's table (the same oid), if any."""
        return next((table for table, schema in self.schemas.items() if schema.definition.oid is not None
                     and schema.definition.oid == change.definition.oid and not schema.paused), None)

    def _recreates(self, item: Decoded) -> bool:
        return isinstance(item, BackfillSignal) and any(
            table in self.schemas and self.schemas[table].paused for table in item.tables)

    def _recreate_paused(self, transaction: Transaction[Decoded]) -> None:
        """A backfill of paused tables: each is made anew, empty, from the source's latest definition; the changes
        after the signal and the backfill's reads fill it."""
        for item in transaction.items:
            if isinstance(item, BackfillSignal):
                for table in item.tables:
                    self._recreate(table, item.signal)
        self.batch.add_released(self._decoded_again(transaction))

    def _recreate(self, table: str, signal: str) -> None:
        current = self.schemas.get(table)
        evolution = recreate(current, signal) if current is not None else None
        if evolution is None or current is None:
            if current is not None and current.paused:
                log.error("the backfill %s cannot recreate %s: its latest source definition still has no replica "
                          "table (%s)", signal, table, current.paused)
            return
        self._make_anew(evolution.schema, evolution.recreate, recreated_comment(evolution.schema.version, signal))
        log.warning("backfill %s: the paused replica table %s is made anew from the source's definition %d and "
                    "refilled", signal, table, evolution.schema.version)

    def _publish(self, change: SchemaChange) -> None:
        """A table added to the publication: its replica table is made anew, empty, at this point of the stream; the
        backfill signalled in the same source transaction (migration 0005) and the changes after it fill it."""
        schema = TableSchema.first(change.version, change.definition)
        self._start_replicating(change.definition.name, schema, published_comment(schema.version),
                                "was added to the publication (its rows are backfilled)")

    def _start_replicating(self, table: str, schema: TableSchema, marker: str, why: str) -> None:
        """The table is replicated from here on: its replica table made anew, empty, from `schema` (`marker`: its
        comment), or the table paused if its definition has no replica table."""
        self._replicate(table)
        if schema.paused:
            self._pause_table(table, schema)
            return
        self._make_anew(schema, schema.spec.ddl(marker), marker)
        log.info("source table %s %s: replicating it from source schema change %d", table, why, schema.version)

    def _adopt_snapshotted(self, released: Released[Decoded]) -> bool:
        """Replica tables for the tables of `released` that the connector's initial snapshot read though the consumer
        has none: tables added to the publication before that snapshot (connectors.publication). Each is made, empty,
        from the definition that snapshot saw, as a shop table is on a first start; the snapshot's reads and the
        changes after it fill it. False if none was made."""
        unknown = {table: oid for table, oid in self._unknown_tables(released).items() if table not in self.looked_up}
        if not unknown:
            return False
        self.looked_up |= unknown.keys()
        snapshotted = snapshot_publications(self.settings.kafka.bootstrap, self.schema_topic)
        # By an ALTER, only the table the snapshot saw (its oid): not one dropped and created again under its name.
        adopted = sorted(table for table, oid in unknown.items()
                         if table in snapshotted and oid in (None, snapshotted[table][1].oid))
        if adopted:
            self._cut()
        for table in adopted:
            schema = TableSchema.first(*snapshotted[table])
            self._start_replicating(table, schema, snapshotted_comment(schema.version, uuid.uuid4().hex[:12]),
                                    "was read by the connector's initial snapshot")
        return bool(adopted)

    def _unknown_tables(self, released: Released[Decoded]) -> dict[str, int | None]:
        """The tables without a replica table that `released` has a change of (None) or an ALTER of (the table's
        oid). A new table is not one the snapshot read, and one added to the publication in `released` is
        _publish's."""
        items = released.items if isinstance(released, Transaction) else (released.item,)
        tables: dict[str, int | None] = {}
        published = set()
        for item in items:
            if isinstance(item, ChangeEvent):  # nearly all of them: the hot path
                continue
            if isinstance(item, DecodeError) and item.raw.topic not in self.tables:
                if (table := topic_table(self.settings.kafka.topic_prefix, item.raw.topic)) is not None:
                    tables.setdefault(table, None)
            elif isinstance(item, SchemaChange) and item.command == ALTER_COMMAND:
                tables.setdefault(item.definition.name, item.definition.oid)
            elif isinstance(item, SchemaChange) and item.publishes:
                published.add(item.definition.name)
        if not tables:
            return tables
        return {table: oid for table, oid in tables.items() if table not in published and table not in self.schemas}

    def _make_anew(self, schema: TableSchema, ddl: str | None, marker: str) -> None:
        """The replica table dropped and created from `schema` (`marker`: its comment, which tells a restart that it
        was done), in the batch being filled; what is held is decoded again against it."""
        table = schema.spec.name
        self.schemas[table] = schema
        self.batch.schema_steps.append(SchemaStep(table, schema.version, None, schema.stored(), recreate=ddl,
                                                  marker=marker))
        self.batch.specs[table] = schema.spec
        topic = self.topic_of_table[table]
        self.tables[topic] = schema.spec
        self.paused.discard(topic)
        self.stats.table_paused(table, None)
        self.assembler.map_pending(self._decoded_item_again)

    def _cut(self) -> None:
        """The batch so far goes to the writer's queue as it is. Its offsets are not committed (the next batch's
        are): a restart after it alone reads it again, and skips it by the watermark."""
        if self.batch:  # its offsets stay empty: only _take_batch sets a batch's
            self.ready.append(self.batch)
            self.batch = self._new_batch()

    def _admit_schema_transaction(self, transaction: Transaction[Decoded]) -> None:
        for item in transaction.items:
            if isinstance(item, SchemaChange):
                self._evolve(item)
            self.batch.add(self._applicable_item(self._decoded_item_again(item)))
        self.batch.transaction_taken(transaction)

    def _evolve(self, change: SchemaChange) -> None:
        table = change.definition.name
        current = self.schemas.get(table)
        if change.publishes and (current is None or change.version > current.version):
            self._publish(change)  # added again after a removal: made anew too (changes in between were not read)
            return
        if current is None:
            self._pause_renamed(change)
            return  # not a replicated table
        evolution = evolve(current, change.version, change.definition, change.statement)
        schema = evolution.schema
        if schema is current:
            return
        self.schemas[table] = schema
        step = SchemaStep(table, change.version, evolution.alter, schema.stored(), evolution.tighten)
        if schema.paused:
            self._pause_table(table, schema, step)
            return
        topic = self.topic_of_table[table]
        self.tables[topic] = schema.spec
        self.batch.evolve(step, schema.spec)
        self.assembler.map_pending(self._decoded_item_again)
        log.info("source schema change %d of %s: the replica follows (%s)", change.version, table,
                 evolution.alter or "nothing to change in MySQL")

    def _pause_renamed(self, change: SchemaChange) -> None:
        """A replicated table renamed away: its topic gets nothing more."""
        table = self._renamed_away(change)
        if table is None:
            return
        current = self.schemas[table]
        self._pause_table(table, TableSchema(change.version, current.definition, current.spec,
                                             _pause_reason_renamed(table, change)))

    def _decoded_again(self, released: Released[Decoded]) -> Released[Decoded]:
        if isinstance(released, Transaction):
            return Transaction(released.xid, released.commit_lsn,
                               tuple(self._decoded_item_again(item) for item in released.items), released.ts_ms)
        return Loose(self._decoded_item_again(released.item))

    def _decoded_item_again(self, item: Decoded) -> Decoded:
        if isinstance(item, (ChangeEvent, DecodeError)) and item.raw.topic in self.tables:
            return decode(item.raw, self.tables)
        return item

    def _applicable(self, released: Released[Decoded]) -> Released[Decoded]:
        """Without the changes of paused tables; a change whose columns still do not fit its table pauses it. A
        message outside any transaction committed before (a re-read) is skipped, as a transaction is by the
        watermark."""
        if isinstance(released, Loose) and self._applied_before(released.item.raw):
            return Loose(Skip(released.item.raw, "applied before"))
        items = released.items if isinstance(released, Transaction) else (released.item,)
        if not self.paused and not any(isinstance(item, DecodeError) and item.shape for item in items):
            return released
        kept = tuple(self._applicable_item(item) for item in items)
        if isinstance(released, Transaction):
            return Transaction(released.xid, released.commit_lsn, kept, released.ts_ms)
        return Loose(kept[0])

    def _applied_before(self, raw: RawMessage) -> bool:
        return raw.offset <= self.loose_applied.get((raw.topic, raw.partition), -1)

    def _applicable_item(self, item: Decoded) -> Decoded:
        if isinstance(item, DecodeError) and item.shape and item.raw.topic not in self.paused:
            item = self._decoded_item_again(item)
            if isinstance(item, DecodeError) and item.shape:
                self._pause_unfit(item)
        if item.raw.topic in self.paused and isinstance(item, (ChangeEvent, DecodeError)):
            return Skip(item.raw, "table paused", item.tag)
        return item

    def _pause_unfit(self, item: DecodeError) -> None:
        """A change that fits no definition of its table the consumer knows (a DDL the source did not record)."""
        table = self.table_of_topic[item.raw.topic]
        current = self.schemas[table]
        where = f"{item.raw.topic}[{item.raw.partition}]@{item.raw.offset}"
        why = (f"table {table} paused: the change at {where} does not fit its definition (source schema change "
               f"{current.version}): {item.error}. The source's table changed without its event trigger recording it "
               "(is cdc_capture_schema_changes installed?). Its changes are not applied from there on; the other "
               "tables go on. Way out: README, Operations, 'A paused table'")
        self._pause_table(table, TableSchema(current.version, current.definition, current.spec, why))

    def _pause_table(self, table: str, schema: TableSchema, step: SchemaStep | None = None) -> None:
        """`schema` (paused) becomes the table's, stored with the batch (by `step`, or a step without DDL): its
        changes are skipped from here on, and the reason is reported."""
        self.schemas[table] = schema
        self.batch.schema_steps.append(step or SchemaStep(table, schema.version, None, schema.stored()))
        self.paused.add(self.topic_of_table[table])
        self._report_pause(table)

    def _report_pause(self, table: str) -> None:
        reason = self.schemas[table].paused
        self.stats.table_paused(table, reason)
        if reason:
            log.error("%s", reason)

    def _transaction_end(self, raw: RawMessage) -> TxEnd | None:
        """The END event in a transaction-topic message; None for a BEGIN (or bad input, dead-lettered)."""
        try:
            return parse_end(orjson.loads(raw.value or b"null"))
        except (ValueError, TransactionMetadataError) as exc:  # orjson.JSONDecodeError is a ValueError
            self.batch.dead_letters.append(DeadLetter(raw, f"not a transaction metadata event: {exc}", "decode"))
            return None

    # --- writing: one batch at a time in the writer thread, offsets committed here ------

    def _write_if_due(self) -> None:
        if self.in_flight is not None:
            return
        if not self.batch and self.failed is None and not self.ready and self.drained:
            self._commit_replays()
            return
        if self.failed is not None:
            if self.backoff.ready():
                self._submit(self.failed)
                self.failed = None
            return
        if self.ready:
            self._submit(self.ready.popleft())
            return
        if self.batch and (self.drained or self.batch.messages >= self.settings.batch_size
                           or self.batch.age() >= self.settings.flush_interval):
            self._submit(self._take_batch())

    def _commit_replays(self) -> None:
        """Commit positions that moved over replays only (nothing to write): a restart need not read them again."""
        moved = {where: position for where, position in self.assembler.positions().items()
                 if position > self.committed.get(where, 0)}
        if moved and time.monotonic() >= self.next_replay_commit:
            self.next_replay_commit = time.monotonic() + REPLAY_COMMIT_SECONDS
            if offsets.commit(self.consumer, {where: position - 1 for where, position in moved.items()}):
                self.committed.update(moved)

    def _take_batch(self) -> Batch:
        """Cut the batch: it completes every partition up to the assembler's positions."""
        batch, self.batch = self.batch, self._new_batch()
        batch.offsets = {where: position - 1 for where, position in self.assembler.positions().items()}
        return batch

    def _submit(self, batch: Batch) -> None:
        self.in_flight = (batch, self.writer.submit(self._write, batch))

    def _write(self, batch: Batch) -> int:
        """In the writer thread: MySQL transaction, then dead letters; the count of rows applied."""
        result = self.sink.write(batch)
        committed_at = time.time()
        if self.on_batch_committed is not None:
            self.on_batch_committed(batch)
        letters = batch.dead_letters + result.dead_letters
        self.deadletters.send(letters)
        self.stats.dead_lettered_more(len(letters))
        self.stats.committed(batch.changes, batch.source_ms, committed_at)
        return result.applied

    def _complete(self, block: bool) -> bool:
        """Finish the in-flight write (commit its offsets); False if it failed or is still running."""
        if self.in_flight is None:
            return True
        batch, future = self.in_flight
        if not block and not future.done():
            return False
        self.in_flight = None
        try:
            applied = future.result()
        except (MySqlUnavailable, DeadLetterError) as exc:
            self.failed = batch
            self.stats.write_failed()
            log.warning("batch of %d messages not written (%s); pausing consumption, retry in %.1f s",
                        batch.messages, exc, self.backoff.failed())
            self._pause()
            return False
        if offsets.commit(self.consumer, batch.offsets):
            self.committed.update({where: offset + 1 for where, offset in batch.offsets.items()})
        self._schemas_committed(batch)
        if batch.source_point is not None:
            self.applied_lsn = batch.source_point.lsn
            self._rereads_done(batch.offsets.keys())
        self.stats.flushed(batch.messages, applied)
        if self.backoff.failing:
            log.info("MySQL writes succeed again; resuming consumption")
            self.backoff.reset()
            self.stats.writing_again()
            self._resume()
        return True

    def _write_all(self, deadline: float) -> bool:
        """Write and commit everything consumed, in order; False if MySQL stays unavailable past deadline."""
        while True:
            if not self._complete(block=True):
                if time.monotonic() >= deadline:
                    return False
                time.sleep(min(self.backoff.delay, max(deadline - time.monotonic(), 0.0)))
            if self.failed is not None:
                batch, self.failed = self.failed, None
            elif self.ready:
                batch = self.ready.popleft()
            elif self.batch:
                batch = self._take_batch()
            else:
                return True
            self._submit(batch)

    # --- pausing and rebalancing --------------------------------------------

    def _pause(self) -> None:
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.pause(assigned)

    def _resume(self) -> None:
        assigned = self.consumer.assignment()
        if assigned:
            self.consumer.resume(assigned)

    def _on_assign(self, consumer: Consumer, partitions: Sequence[TopicPartition]) -> None:
        log.info("assigned %s", _describe(partitions))
        if not partitions:
            return
        rereads = {(tp.topic, tp.partition) for tp in partitions} & self.rereads
        # Raised out of consume(): the run ends.
        sources = [tp for tp in partitions if tp.topic != self.heartbeat_topic]
        gaps.check_assignment(consumer, sources, self.settings.group_id, from_start=rereads)
        self.assigned_topics |= {tp.topic for tp in partitions}
        self._record_generations()
        if rereads:
            consumer.assign(_starting_at_log_start(partitions, rereads))
        if self.backoff.failing:
            consumer.pause(list(partitions))
        else:
            consumer.resume(list(partitions))

    def _record_generations(self) -> None:
        """A topic assigned the first time (a table's added to the publication, picked up by the subscription's
        pattern) has its id recorded before anything of it is read, so that its recreation is noticed; should the
        broker or MySQL not answer, the generation watch records it within its next check."""
        try:
            self._check_generations()
        except TopicsRecreated:
            raise  # out of consume(): the run ends
        except (CdcError, OSError) as exc:
            log.warning("cannot record the ids of the assigned topics: %s", exc)

    def _rereads_done(self, committed: Collection[gaps.Where]) -> None:
        done = self.rereads.intersection(committed)
        if not done:
            return
        try:
            generations.rereads_done(self.settings.mysql, done)
        except CdcError as exc:  # still listed: re-read once more from the start, idempotently
            log.warning("cannot take %s off the partitions to re-read: %s", _describe_where(done), exc)
            return
        self.rereads -= done

    def _on_revoke(self, consumer: Consumer, partitions: Sequence[TopicPartition]) -> None:
        log.info("revoked %s", _describe(partitions))
        if not self._write_all(time.monotonic() + REVOKE_FLUSH_SECONDS):
            self._abandon("revoked")
        self._restart_assembly()

    def _on_lost(self, consumer: Consumer, partitions: Sequence[TopicPartition]) -> None:
        log.warning("lost %s", _describe(partitions))
        self._abandon("lost")

    def _abandon(self, why: str) -> None:
        """Drop what is not committed (nothing is committed for it; it is re-read from the committed offsets)."""
        if self.in_flight is not None:
            batch, future = self.in_flight
            if future.exception() is None:  # waits for the writer; committed: its transactions are replays now
                self._schemas_committed(batch)
                if batch.source_point is not None:
                    self.applied_lsn = batch.source_point.lsn
        dropped = [batch for batch in (self.in_flight and self.in_flight[0], self.failed, *self.ready, self.batch)
                   if batch]
        if dropped:
            log.warning("%s: abandoning %d uncommitted messages; they will be re-read",
                        why, sum(batch.messages for batch in dropped))
        self.in_flight, self.failed = None, None
        self.ready.clear()
        self.backoff.reset()  # nothing is left to retry
        self.stats.writing_again()
        self._restart_assembly()

    def _restart_assembly(self) -> None:
        """Forget what was consumed but not taken: the partitions are read again from the committed offsets."""
        self.assembler = Assembler(None, self.applied_lsn)
        self._use_applied_schemas()
        self.looked_up.clear()  # a table adopted since the last commit is adopted again when read again
        self.batch = self._new_batch()

    # --- progress -----------------------------------------------------------

    def _log_progress(self) -> None:
        if self.stats.due(self.settings.stats_interval):
            self._refresh_lag(force=True)
            log.info("progress: %s", self.stats.progress_line())

    def _refresh_lag(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.lag_refreshed < LAG_REFRESH_SECONDS:
            return
        self.lag_refreshed = now
        highs = {}
        for tp in self.consumer.assignment():
            # Cached: the high watermark of the last fetch response. Asking the broker takes a round
            # trip per partition, which stalled this loop (and every change's latency) for up to a second.
            try:
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except Exception:  # noqa: BLE001 - progress must never stop the pipeline
                continue
            if high >= 0:  # known once a fetch response for the partition arrived
                highs[(tp.topic, tp.partition)] = high
        update_lag(self.stats, highs, self.committed)

    def _kafka_error(self, error: KafkaError) -> None:
        log.warning("kafka: %s", error)


def _pause_reason_renamed(table: str, change: SchemaChange) -> str:
    return (f"table {table} paused at source schema change {change.version}: the source renamed it to "
            f"{change.definition.name}, whose changes are not replicated. Way out: README, Operations, "
            "'A paused table'")


def _describe(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing"


def _describe_where(partitions: Collection[gaps.Where]) -> str:
    return ", ".join(f"{topic}[{partition}]" for topic, partition in sorted(partitions))


def _starting_at_log_start(partitions: Sequence[TopicPartition],
                           rereads: Collection[gaps.Where]) -> list[TopicPartition]:
    """The assignment with `rereads` at their log start and the others at the group's committed offset."""
    return [TopicPartition(tp.topic, tp.partition,
                           OFFSET_BEGINNING if (tp.topic, tp.partition) in rereads else OFFSET_INVALID)
            for tp in partitions]


def run(settings: ConsumerSettings, stop: threading.Event) -> Stats:
    """Run the replicator until `stop` is set; return its counters."""
    if settings.batch_size < 1:
        raise ConsumerError("the batch size must be positive")
    replicator = Replicator(settings)
    replicator.run(stop)
    return replicator.stats
