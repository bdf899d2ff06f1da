"""Replica consumer benchmark: end-to-end latency under live load, and drain rate vs a no-Kafka MySQL ceiling.

    python -m bench.consumer_bench [--events 200000] [--repeat 3] [--live-rate 1800] [--live-workers 1]
                                   [--live-seconds 20] [--keep-connect] [--keep-stack]

Starts its own local stack (cdc.local.stack.up, infra only: PostgreSQL,
MariaDB, the broker, Kafka Connect + Debezium; die_with_parent=True) in a
temporary folder and tears it down. Every event measured is a real Debezium
change event of the stack's five topics (<prefix>.public.<table> for users,
product_categories, products, orders and order_details).

Latency (first, with Kafka Connect + Debezium running): `cdc generate seed`
(small), a Replicator (in-process) on its own database and group drains the
seed, then `cdc generate live --rate R` runs for --live-seconds. For every
change the replicator applies whose source commit came after the live run
started: Debezium's `source.ts_ms` (the PostgreSQL commit time, ms) ->
the wall time right after the MySQL commit of its batch (the
Replicator's on_batch_committed hook). p50 and p99 are shown, and each
change's time split into its parts (LATENCY_PARTS): source commit ->
Debezium's ts_ms -> the Kafka message's CreateTime (Connect's producer took
it) -> consumed -> its source transaction was whole -> its batch went to the
writer -> MySQL commit, each part's
p50 and p99 and its mean over the slowest 1% of the changes (where the tail
comes from).

The load: the issue asks for 500 orders/s. The generator's rate is in
transactions/s, about 28% of them new orders, so the default R=1800 asks for
~500 new orders/s. On the 2-core machine, next to PostgreSQL, Debezium, the
broker, MariaDB and the consumer, one generator process reaches only 550 to
900 tx/s (150 to 250 new orders/s), depending on the machine and its other
tenants: the latency is then measured under the highest
load this machine can generate, and the table prints the transactions/s and
new orders/s actually achieved, from the generator's own summary, never the
requested rate.

Then the topics are grown to about --events row changes: a real
`cdc generate seed --append` (COPY into PostgreSQL; users, categories,
products, orders with 1-5 lines) sized for what the small seed and the live
run left short. A plain confluent_kafka Consumer reads the five topics from
their start meanwhile, until it has at least every seeded row and no new
message came for a few seconds: Debezium has delivered it all. (Not by
asking the broker for the high watermarks: tansu answers ListOffsets with
the last batch's base offset + 1, short of the log end; the high watermarks
of its fetch responses are right and are checked against what was read.)
The topics then hold the small seed's creates, the live run's creates,
updates, deletes and the deletes' tombstones, and the big seed's creates;
the table prints the mix per table and op. Kafka Connect is then stopped
(no more events come), so its JVM does not share the CPUs during the
measures (--keep-connect leaves it running).

- drain: a Replicator (the code `cdc consume` runs, in-process) with a fresh
  consumer group on a fresh database reads the five topics from the start
  (auto.offset.reset earliest) until it has committed every message in
  them (the sum of the high watermarks; tombstones included). Timed from
  the first message it takes (the Replicator's on_consumed hook) to the
  MySQL commit of its last batch (on_batch_committed).
- ceiling: the same messages, as read above (outside the timing), decoded
  by the consumer's own decoder (consumer.envelope.decode: the rows exactly
  as the consumer converts them), written straight to MySQL (another fresh
  database), no Kafka: in topic-read order, CEILING_BATCH changes a
  transaction, per table PyMySQL's executemany of the sink's upsert_sql
  (which PyMySQL turns into multi-row upserts) for c/r/u, then the sink's
  delete_sql for d. No coalescing: every change is written.

Both rates are row changes/s, row changes being the messages that are not
tombstones (a delete's tombstone is consumed but changes nothing). Each
measure runs --repeat times (fresh database and group each run); the table
shows the medians. After the runs the drain's and the ceiling's databases
are compared (CHECKSUM TABLE, equal) and their row counts with the source.
Prints one table: the machine, the event mix, both rates and their ratio,
and the latency.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import psycopg2
from confluent_kafka import OFFSET_BEGINNING, KafkaError, Message

from bench import cli, topics
from bench.report import machine_line, measures_table, percentile
from bench.stack import own_stack, stop_connect
from consumer.app import Replicator
from consumer.batch import Batch
from consumer.envelope import ChangeEvent, Decoded, DecodeError, Skip, decode
from consumer.replica_schema import REPLICA_TABLES, TableSpec, ensure_database, ensure_tables
from consumer.settings import ConsumerSettings
from consumer.sink import DELETE_CHUNK, delete_sql, upsert_sql
from core import mysql_dialect
from core.deadletter import RawMessage
from core.mysql import close_quietly, connect
from core.settings import MySqlSettings
from core.source.tables import SOURCE_TABLES
from core.transactions import Released, Transaction

CEILING_BATCH = 5000  # row changes per ceiling transaction (the consumer's default batch is 5000 messages)
QUIET_SECONDS = 3.0  # no new message for this long: the replicator (or Debezium) has caught up
# `cdc generate seed --append` sized by orders: each order is 1 row + 1-5 lines (3 on average); with a
# user per 5 orders and a product per 20, an order brings about 4.25 row changes.
CHANGES_PER_ORDER = 4.25
OPS = ("c", "r", "u", "d")


# --- filling the topics with real Debezium events ---------------------------------------------

class TopicTail:
    """Reads the five topics from their start as Debezium fills them, keeping every message.

    Why read rather than ask the broker for the high watermarks: tansu (the local stack's broker)
    answers ListOffsets(latest) with the last record batch's base offset + 1, short of the log end
    (e.g. 1 for a partition holding 7 messages in one batch). The high watermarks in its fetch
    responses are right; they are checked against what was read (`watermarks`).
    """

    def __init__(self, bootstrap: str, topic_names: Sequence[str]) -> None:
        self.consumer = topics.reader(bootstrap, **{"auto.offset.reset": "earliest"})
        self.partitions = topics.partitions(self.consumer, topic_names, OFFSET_BEGINNING)
        self.consumer.assign(self.partitions)
        self.messages: list[RawMessage] = []

    def read(self, at_least: int, timeout: float = 900) -> int:
        """Until at least `at_least` messages were read and none came for QUIET_SECONDS; the count read."""
        deadline = time.monotonic() + timeout
        since = time.monotonic()
        while time.monotonic() < deadline:
            batch = self.consumer.consume(num_messages=1000, timeout=0.5)
            for message in batch:
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error
                    continue
                self.messages.append(RawMessage.of(message))
            if batch:
                since = time.monotonic()
            elif len(self.messages) >= at_least and time.monotonic() - since >= QUIET_SECONDS:
                return len(self.messages)
        raise AssertionError(f"Debezium did not deliver {at_least} messages in time ({len(self.messages)} read)")

    def watermarks(self) -> int:
        """The messages in the topics by the fetch responses' high watermarks; checks that all were read."""
        ends: dict[tuple[str, int], int] = {}
        for raw in self.messages:
            ends[(raw.topic, raw.partition)] = max(ends.get((raw.topic, raw.partition), 0), raw.offset + 1)
        count = 0
        for tp in self.partitions:
            low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            if high > 0:
                assert ends.get((tp.topic, tp.partition)) == high, f"{tp.topic}[{tp.partition}] not read to its end"
                count += high - max(low, 0)
        assert count == len(self.messages), f"read {len(self.messages)} messages, the topics hold {count}"
        return count

    def close(self) -> None:
        self.consumer.close()


def seed_append(env: dict[str, str], changes: int) -> int:
    """`cdc generate seed --append` of about `changes` row changes (sized by orders); the rows it seeded."""
    orders = max(0, round(changes / CHANGES_PER_ORDER))
    if not orders:
        return 0
    return cli.seed(env, users=orders // 5, categories=20, products=orders // 20, orders=orders, seed=11,
                    append=True).total_rows


@dataclass
class Mix:
    """The events in the topics: row changes per table and op, and tombstones per table."""

    changes: Counter[tuple[str, str]]
    tombstones: Counter[str]

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())

    @property
    def messages(self) -> int:
        return self.total_changes + sum(self.tombstones.values())


def decode_all(messages: Sequence[RawMessage], tables: dict[str, TableSpec]) -> tuple[list[ChangeEvent], Mix]:
    changes, mix = [], Mix(Counter(), Counter())
    for raw in messages:
        decoded = decode(raw, tables)
        if isinstance(decoded, DecodeError):
            raise AssertionError(f"undecodable Debezium event at {raw.topic}[{raw.partition}]@{raw.offset}: "
                                 f"{decoded.error}")
        if isinstance(decoded, Skip):
            mix.tombstones[tables[raw.topic].name] += 1
            continue
        if decoded.is_truncate:
            raise AssertionError("the generator never truncates; the ceiling does not handle it")
        changes.append(decoded)
        mix.changes[(decoded.table, decoded.op)] += 1
    return changes, mix


# --- the measures ------------------------------------------------------------------------------

@dataclass
class DrainClock:
    """When the replicator took its first message and when it committed its last batch (its hooks)."""

    first_message: float | None = None
    last_commit: float | None = None

    def consumed(self, count: int) -> None:
        if self.first_message is None:
            self.first_message = time.monotonic()

    def committed(self, batch: Batch) -> None:
        self.last_commit = time.monotonic()


def drain(settings: ConsumerSettings, expected_messages: int) -> tuple[float, int]:
    """Run the replicator until it committed every message; (seconds first message..last commit, rows applied)."""
    clock = DrainClock()
    replicator = Replicator(settings, on_batch_committed=clock.committed, on_consumed=clock.consumed)
    stop_event = threading.Event()
    worker = threading.Thread(target=replicator.run, args=(stop_event,), daemon=True)
    worker.start()
    deadline = time.monotonic() + 900
    while replicator.stats.messages < expected_messages and time.monotonic() < deadline and worker.is_alive():
        time.sleep(0.02)
    stop_event.set()
    worker.join(30)
    assert replicator.stats.messages >= expected_messages, "the replicator did not drain the topics in time"
    assert replicator.stats.dead_lettered == 0, f"{replicator.stats.dead_lettered} messages were dead-lettered"
    assert clock.first_message is not None and clock.last_commit is not None
    return clock.last_commit - clock.first_message, replicator.stats.applied


def ceiling(settings: MySqlSettings, changes: Sequence[ChangeEvent]) -> float:
    """Seconds to write every change straight to MySQL: multi-row upserts and deletes, CEILING_BATCH a transaction."""
    conn = connect(settings, session=(mysql_dialect.SESSION,), database=False)
    ensure_database(conn, settings.url.database)
    conn.select_db(settings.url.database)
    ensure_tables(conn, REPLICA_TABLES.values())
    chunks = []  # outside the timing: per transaction, per table, (rows to upsert, keys to delete)
    for start in range(0, len(changes), CEILING_BATCH):
        chunk: dict[str, tuple[list[tuple], list[tuple]]] = {}
        for event in changes[start:start + CEILING_BATCH]:
            rows, keys = chunk.setdefault(event.table, ([], []))
            assert event.key is not None  # row changes only, no truncates
            if event.is_delete:
                keys.append(event.key)
            else:
                assert event.row is not None
                rows.append(event.row + (event.lsn,))  # the position column, as the consumer writes it
                if event.old_key is not None:
                    keys.append(event.old_key)
        chunks.append([(REPLICA_TABLES[table], rows, keys) for table, (rows, keys) in chunk.items()])
    started = time.monotonic()
    with conn.cursor() as cur:
        for chunk_tables in chunks:
            for spec, rows, keys in chunk_tables:
                if rows:  # in topic order: a key's later change wins, as in the consumer's batch
                    cur.executemany(upsert_sql(spec), rows)
                # After the upserts: a row created and deleted within the chunk ends deleted (ids never come back).
                for at in range(0, len(keys), DELETE_CHUNK):
                    part = keys[at:at + DELETE_CHUNK]
                    cur.execute(delete_sql(spec, len(part)), [value for key in part for value in key])
            conn.commit()
    seconds = time.monotonic() - started
    conn.close()
    return seconds


def replica_contents(settings: MySqlSettings) -> dict[str, tuple[int, int]]:
    """table -> (rows, CHECKSUM TABLE)."""
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            contents = {}
            for table in SOURCE_TABLES:
                cur.execute(f"SELECT COUNT(*) FROM `{table}`")
                (rows,) = cur.fetchone()
                cur.execute(f"CHECKSUM TABLE `{table}`")
                contents[table] = (rows, cur.fetchone()[1])
            return contents
    finally:
        close_quietly(conn)


def source_counts(env: dict[str, str]) -> dict[str, int]:
    conn = psycopg2.connect(env["PG_DSN"])
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in SOURCE_TABLES:
                cur.execute(f"SELECT COUNT(*) FROM {table}")
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


@dataclass(frozen=True)
class ChangeTimes:
    """When one applied change passed each step, for the latency's parts (all clocks are this machine's)."""

    source_ms: int  # source.ts_ms: the PostgreSQL commit
    debezium_ms: int  # the envelope's ts_ms: Debezium processed it
    produced_ms: int  # the Kafka message's CreateTime: Connect's producer took it
    received: float  # unix seconds: the consumer's consume() returned it
    released: float  # its whole source transaction was assembled (core.transactions)
    written: float  # its batch went to the writer thread
    committed: float  # its batch's MySQL commit returned

    @property
    def latency(self) -> float:
        """Seconds, source commit -> visible in MySQL."""
        return self.committed - self.source_ms / 1000

    def parts(self) -> tuple[float, ...]:
        """Seconds spent in each of LATENCY_PARTS."""
        return ((self.debezium_ms - self.source_ms) / 1000, (self.produced_ms - self.debezium_ms) / 1000,
                self.received - self.produced_ms / 1000, self.released - self.received,
                self.written - self.released, self.committed - self.written)


LATENCY_WINDOW_SECONDS = 5.0
LATENCY_PARTS = ("source commit -> Debezium", "Debezium -> Connect's producer", "producer -> consumer (broker)",
                 "consumer: the rest of its transaction", "consumer: batch, writer busy",
                 "MySQL write and commit")
BROKER_PART = LATENCY_PARTS.index("producer -> consumer (broker)")


@dataclass(frozen=True)
class Latency:
    changes: list[ChangeTimes]  # every change applied whose source commit came after the live run started
    load: cli.LiveReport  # the generator's own summary of the live run

    @property
    def samples(self) -> list[float]:
        """Seconds, source commit -> visible in MySQL, one per change."""
        return [change.latency for change in self.changes]

    @property
    def samples_less_broker(self) -> list[float]:
        """Seconds, source commit -> visible in MySQL less the broker's hop, one per change: what the rest of the
        pipeline adds. The broker here is tansu, whose fetches cost more with every batch it stores (the README,
        Performance); waits that the broker causes elsewhere (a transaction's other events late) stay in."""
        return [change.latency - change.parts()[BROKER_PART] for change in self.changes]

    def parts_of_slowest(self, share: float) -> list[float]:
        """The mean seconds of each part over the slowest `share` of the changes: where the tail comes from."""
        if not self.changes:
            return [math.nan] * len(LATENCY_PARTS)
        slowest = sorted(self.changes, key=lambda change: change.latency)
        tail = slowest[-max(1, round(len(slowest) * share)):]
        return [sum(parts) / len(tail) for parts in zip(*(change.parts() for change in tail), strict=True)]

    def by_window(self, seconds: float) -> list[list[float]]:
        """The latencies (seconds) of the changes committed at the source in each `seconds` of the live run, in order:
        whether the latency stays level or grows as the broker's partitions fill up (see the README, Performance)."""
        if not self.changes:
            return []
        start = min(change.source_ms for change in self.changes)
        windows: list[list[float]] = [[] for _ in range(int((max(change.source_ms for change in self.changes)
                                                               - start) / 1000 / seconds) + 1)]
        for change in self.changes:
            windows[int((change.source_ms - start) / 1000 / seconds)].append(change.latency)
        return windows


class TimedReplicator(Replicator):
    """The replicator, noting when it consumed each message, when its transaction was whole, and when each batch
    went to its writer."""

    def __init__(self, settings: ConsumerSettings) -> None:
        super().__init__(settings, on_batch_committed=self._committed)
        self.received: dict[tuple[str, int, int], tuple[int, float]] = {}  # (CreateTime ms, consumed at)
        self.released: dict[tuple[str, int, int], float] = {}  # when its transaction was released whole
        self.written: dict[int, float] = {}  # id(batch) -> when it went to the writer
        self.commits: list[tuple[float, Batch]] = []  # (when, batch), as its MySQL commit returned

    def _take(self, message: Message) -> None:
        if message.error() is None:
            raw = RawMessage.of(message)
            self.received[(raw.topic, raw.partition, raw.offset)] = (message.timestamp()[1], time.time())
        super()._take(message)

    def _admit(self, released: list[Released[Decoded]]) -> None:
        now = time.time()
        for item in released:
            for decoded in item.items if isinstance(item, Transaction) else (item.item,):
                self.released[(decoded.raw.topic, decoded.raw.partition, decoded.raw.offset)] = now
        super()._admit(released)

    def _submit(self, batch: Batch) -> None:
        self.written[id(batch)] = time.time()
        super()._submit(batch)

    def _committed(self, batch: Batch) -> None:
        self.commits.append((time.time(), batch))

    def change_times(self, since_ms: float) -> list[ChangeTimes]:
        """Every change committed whose source commit is at or after `since_ms`."""
        times = []
        for committed, batch in self.commits:
            for changes in batch.tables.values():
                for action in changes.actions.values():
                    raw = action.event.raw
                    envelope = json.loads(raw.value or b"null")
                    if envelope is None or envelope["source"]["ts_ms"] < since_ms:
                        continue
                    where = (raw.topic, raw.partition, raw.offset)
                    produced, received = self.received[where]
                    times.append(ChangeTimes(envelope["source"]["ts_ms"], envelope["ts_ms"], produced, received,
                                             self.released[where], self.written[id(batch)], committed))
        return times


def wait_quiet(replicator: Replicator, timeout: float) -> None:
    """Until the replicator has taken messages and then seen none for QUIET_SECONDS."""
    deadline = time.monotonic() + timeout
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if replicator.stats.messages != seen:
            seen, since = replicator.stats.messages, time.monotonic()
        elif seen > 0 and time.monotonic() - since >= QUIET_SECONDS and replicator.in_flight is None:
            return
        time.sleep(0.1)
    raise AssertionError("the replicator did not catch up in time")


def latency(env: dict[str, str], settings: ConsumerSettings, rate: float, workers: int, seconds: float) -> Latency:
    """Seed, drain the seed, then measure source commit -> MySQL commit under `cdc generate live`."""
    cli.seed(env, users=1000, categories=20, products=500, orders=2000, seed=3)
    replicator = TimedReplicator(settings)
    stop_event = threading.Event()
    worker = threading.Thread(target=replicator.run, args=(stop_event,), daemon=True)
    worker.start()
    try:
        wait_quiet(replicator, 300)
        live_started_ms = time.time() * 1000
        load = cli.live(env, rate=rate, workers=workers, seconds=seconds, seed=7)
        wait_quiet(replicator, 120)
    finally:
        stop_event.set()
        worker.join(30)
    return Latency(replicator.change_times(live_started_ms), load)


def measures(events: int, drain_seconds: float, ceiling_seconds: float, lag: Latency) -> list[tuple[str, str]]:
    """The table's rows: both rates and their ratio, the latency."""
    drain_rate = events / max(drain_seconds, 1e-9)
    ceiling_rate = events / max(ceiling_seconds, 1e-9)
    changes = f"{len(lag.changes)} row changes"
    rows = [
        ("drain: Kafka -> consumer -> MySQL",
         f"{drain_rate:.0f} row changes/s ({events} row changes in {drain_seconds:.2f} s)"),
        ("ceiling: multi-row upserts, no Kafka",
         f"{ceiling_rate:.0f} row changes/s ({events} row changes in {ceiling_seconds:.2f} s)"),
        ("ratio drain / ceiling", f"{drain_rate / ceiling_rate:.0%}"),
        ("latency p50: source commit -> MySQL commit", f"{percentile(lag.samples, 0.50) * 1000:.0f} ms ({changes})"),
        ("latency p99: source commit -> MySQL commit", f"{percentile(lag.samples, 0.99) * 1000:.0f} ms ({changes})"),
    ]
    less_broker = lag.samples_less_broker
    rows.append(("latency less the broker's hop: p50 / p99",
                 f"{percentile(less_broker, 0.50) * 1000:.0f} / {percentile(less_broker, 0.99) * 1000:.0f} ms"))
    tail = lag.parts_of_slowest(0.01)
    for index, name in enumerate(LATENCY_PARTS):
        part = [change.parts()[index] for change in lag.changes]
        rows.append((f"  {name}: p50 / p99 / mean in the slowest 1%",
                     f"{percentile(part, 0.50) * 1000:.0f} / {percentile(part, 0.99) * 1000:.0f} / "
                     f"{tail[index] * 1000:.0f} ms"))
    windows = [f"{percentile(window, 0.50) * 1000:.0f}/{percentile(window, 0.99) * 1000:.0f}"
               for window in lag.by_window(LATENCY_WINDOW_SECONDS)]
    rows.append((f"latency p50/p99 per {LATENCY_WINDOW_SECONDS:g} s of the live run", f"{', '.join(windows)} ms"))
    return rows


def print_table(host: str, mix: Mix, drain_seconds: float, ceiling_seconds: float, applied: int, lag: Latency,
                live_rate: float, checked: str) -> None:
    events = mix.total_changes
    print()
    print(host)
    print(f"events: {mix.messages} Debezium messages in the five topics ({events} row changes + "
          f"{sum(mix.tombstones.values())} tombstones), from `cdc generate seed`, `cdc generate live` "
          f"and `cdc generate seed --append`")
    print(f"{'table':<20} {'c':>8} {'r':>8} {'u':>8} {'d':>8} {'changes':>9} {'tombstones':>10}")
    for table in (*SOURCE_TABLES, None):
        ops = [sum(count for (name, op_), count in mix.changes.items() if op_ == op and table in (None, name))
               for op in OPS]
        tombstones = sum(mix.tombstones.values()) if table is None else mix.tombstones[table]
        print(f"{table or 'all':<20} {ops[0]:>8} {ops[1]:>8} {ops[2]:>8} {ops[3]:>8} {sum(ops):>9} {tombstones:>10}")
    print()
    print(measures_table(measures(events, drain_seconds, ceiling_seconds, lag)))
    print(f"(rows written by the consumer after coalescing: {applied}; {checked}; latency under "
          f"`cdc generate live --rate {live_rate:g}`: achieved {lag.load.transactions_per_second:.0f} transactions/s "
          f"= {lag.load.new_orders_per_second:.0f} new orders/s, over {lag.load.elapsed_seconds:.1f} s)")


def fill_topics(env: dict[str, str], topic_names: Sequence[str], events: int) -> list[RawMessage]:
    """Grow the topics to about `events` row changes with a real seed; every message in them, as read."""
    print(f"filling the topics to ~{events} row changes with `cdc generate seed --append` ...", flush=True)
    started = time.monotonic()
    tail = TopicTail(env["KAFKA_BOOTSTRAP"], topic_names)
    try:
        before = tail.read(0)  # what the small seed and the live run left (Debezium has delivered it)
        seeded = seed_append(env, events - before)
        tail.read(before + seeded)  # a seed makes creates only: one message per row, no tombstones
        expected = tail.watermarks()
    finally:
        tail.close()
    print(f"seeded {seeded} rows; Debezium delivered, the topics hold {expected} messages "
          f"({time.monotonic() - started:.1f} s)", flush=True)
    return tail.messages


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000,
                        help="row changes to fill the five topics with (about: the big seed is sized by orders)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is shown")
    parser.add_argument("--live-rate", type=float, default=1800.0,
                        help="transactions/s asked of `cdc generate live` during the latency measure "
                             "(~28%% new orders: 1800 asks for ~500 orders/s; the achieved rate is printed)")
    # 1: on the 2-core machine a second connection took CPU from the pipeline it loads and
    # achieved less in total (391 vs 461 tx/s, one run each); where cores are free it adds load.
    parser.add_argument("--live-workers", type=int, default=1, help="`cdc generate live --workers`")
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument("--keep-connect", action="store_true",
                        help="leave Kafka Connect running for the drain and ceiling (by default it is stopped "
                             "once the topics are filled: its JVM would share the CPUs)")
    parser.add_argument("--keep-stack", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    host = machine_line("start")  # before the stack starts
    with own_stack("cdc-consumer-bench-", keep=args.keep_stack) as state:
        env = state.env
        uid = uuid.uuid4().hex[:8]
        base = MySqlSettings.from_env(env)

        print(f"latency: seed, then `cdc generate live --rate {args.live_rate:g}` for {args.live_seconds:g} s ...",
              flush=True)
        lag = latency(env, replace(ConsumerSettings.from_env({**env, "CONSUMER_GROUP": f"bench-latency-{uid}"}),
                                   mysql=base.on_database(f"bench_latency_{uid}")),
                      args.live_rate, args.live_workers, args.live_seconds)

        topic_tables = ConsumerSettings.from_env(env).topics()
        tables = {topic: REPLICA_TABLES[table] for topic, table in topic_tables.items()}
        messages = fill_topics(env, list(topic_tables), args.events)
        expected = len(messages)  # checked against the topics' high watermarks
        if not args.keep_connect:
            stop_connect(state)

        changes, mix = decode_all(messages, tables)
        del messages
        gc.collect()
        gc.freeze()  # the ceiling's rows stay out of the collector's passes during the drains

        drains, ceilings = [], []
        for run in range(args.repeat):
            replica = base.on_database(f"bench_replica_{uid}_{run}")
            direct = base.on_database(f"bench_ceiling_{uid}_{run}")
            settings = replace(ConsumerSettings.from_env({**env, "CONSUMER_GROUP": f"bench-{uid}-{run}",
                                                          "STATS_INTERVAL": "5"}), mysql=replica)
            drains.append(drain(settings, expected))
            ceilings.append(ceiling(direct, changes))
            print(f"run {run + 1}: drain {mix.total_changes / drains[-1][0]:.0f}/s, "
                  f"ceiling {mix.total_changes / ceilings[-1]:.0f}/s", flush=True)
        replicated, written, source = replica_contents(replica), replica_contents(direct), source_counts(env)
        assert replicated == written, f"the drain and the ceiling left different tables: {replicated} vs {written}"
        counts = {table: rows for table, (rows, _) in replicated.items()}
        assert counts == source, f"the replica's row counts differ from the source: {counts} vs {source}"
        checked = "drain and ceiling databases equal (CHECKSUM TABLE), row counts equal to PostgreSQL's"
        drain_seconds, applied = sorted(drains)[len(drains) // 2]
        ceiling_seconds = sorted(ceilings)[len(ceilings) // 2]
        print_table(host, mix, drain_seconds, ceiling_seconds, applied, lag, args.live_rate, checked)


if __name__ == "__main__":
    main()
