"""The Faust app: transport, consumer group and scale-out for the marts.

Faust reads the source topics for one agent, which takes each fetch whole
(marts.delivery: one chunk per fetch instead of one event per message),
assembles whole source transactions from it (marts.assembly) and hands what
they release to a MartStore on a single worker thread (MySQL calls would
otherwise block the event loop and with it the consumer's heartbeats). A
fetch is the batch: it closes as soon as the fetcher has nothing more, and
while MySQL writes one the fetcher reads the next ones. No Faust tables are
used: the state lives in MySQL next to the marts (see marts.apply.store),
and so do the positions reading resumes from (marts.transport): the offsets
Faust commits to Kafka (the agent acks each fetch once done with it) are a
progress report only; replays below MySQL's stored offsets are skipped
there. MySQL outages are waited out inside the store (the worker stays up).
A message that cannot be decoded, or whose values MySQL refuses, goes to the
marts' dead-letter topic before the offsets around it are stored (a replay
would skip it for good).

One active worker (core.leader): cdc marts takes the marts' MySQL lock
before it creates this app, waiting as a hot standby while another worker
holds it; a timer stops the worker when the lock is lost to another instance.

A source schema change of a column the marts read pauses them (marts.pause:
why the worker then stays up, idle, rather than exiting): the reason is
logged as an error once (and again at each start while the pause is stored),
exported as cdc_marts_paused and written in the heartbeat.

Debezium's heartbeat table's topic is read too, as one of the assembler's
collections: nothing is applied from it, but its source transactions move
the marts' watermark, so the marts' freshness (core.metrics) stays current
while the shop is idle.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
import pymysql

from core.deadletter import DeadLetter, DeadLetterError, DeadLetterProducer
from core.errors import CdcError, LeadershipLost, RenumberedTransaction
from core.generations import recreated
from core.health import HEARTBEAT_SECONDS
from core.leader import CHECK_SECONDS, Leadership
from core.limits import MESSAGE_MAX_BYTES
from core.topic_names import source_topic_tables
from core.topics import topic_ids as topic_ids_now
from marts import delivery, generations, transport
from marts.apply.store import BatchResult, MartStore
from marts.assembly import MartsAssembly, Work
from marts.errors import StoreStopped, TopicsRecreated
from marts.events import Event
from marts.generations import explain
from marts.health import MartsHeartbeat
from marts.pause import Pause
from marts.settings import MartsSettings

log = logging.getLogger(__name__)


GENERATION_CHECK_SECONDS = 10.0


def create_app(settings: MartsSettings, store: MartStore, deadletters: DeadLetterProducer,
               topic_ids: dict[str, str], leader: Leadership | None = None) -> faust.App:
    """`topic_ids`: the source topics' ids the worker started with (see marts.generations); `leader`: the
    marts' lock this worker holds (core.leader), whose loss stops it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    kafka = settings.kafka
    timeout = settings.session_timeout
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{kafka.bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=timeout,
        broker_rebalance_timeout=timeout,
        broker_heartbeat_interval=1,
        broker_request_timeout=max(30.0, timeout * 2),
        broker_commit_every=settings.batch_size,
        broker_commit_interval=1.0,
        consumer_max_fetch_size=MESSAGE_MAX_BYTES,
        producer_max_request_size=MESSAGE_MAX_BYTES,
        stream_wait_empty=False,
        web_enabled=False,
        broker_max_poll_records=settings.batch_size,
    )
    tables = source_topic_tables(kafka.topic_prefix)
    assembly = MartsAssembly(kafka.topic_prefix, tables, store.applied_lsn, store.pause)
    transport.configure(app, fetch_wait_ms=settings.fetch_wait_ms, topics=set(assembly.topics()),
                        positions=store.positions)
    topic = app.topic(*assembly.topics(), key_serializer="raw", value_serializer="raw", allow_empty=True)
    app.topics.add(topic)  # subscribed by Faust, read by the marts' loop (marts.delivery)
    fetches = delivery.fetches_channel(app)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="marts-mysql")
    progress = Progress()
    heartbeat = MartsHeartbeat(settings.health.file, set(tables), store.positions)

    def announce(pause: Pause) -> None:
        log.error("%s", pause.message())
        heartbeat.paused(pause.message())
        if store.metrics is not None and store.metrics.marts_paused is not None:
            store.metrics.marts_paused.set(1)

    if store.pause is not None:
        announce(store.pause)

    def dead_letters_then_apply(work: Work) -> BatchResult:
        def reject(event: Event, reason: str) -> None:
            send_until_delivered(deadletters, [DeadLetter(work.raws[event.position], reason, "apply")], store)

        send_until_delivered(deadletters, work.letters, store)
        return store.apply(work.events, reject, work.mark)

    @app.agent(fetches, name="marts")
    async def apply_changes(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for fetched in stream:
            if not delivery.is_current(app, fetched):
                continue  # read before a rebalance: read again from the positions in MySQL
            delivery.note_taken(app, fetched)
            try:
                work = assembly.take(fetched.messages)
            except RenumberedTransaction as exc:  # which events the transaction has is unknowable: stop
                log.critical("%s", exc)
                await app.crash(exc)
                return
            if work is None:
                delivery.acknowledge(app.consumer, fetched.messages)
                continue
            try:
                result = await loop.run_in_executor(executor, dead_letters_then_apply, work)
            except asyncio.CancelledError:
                store.stopping.set()  # the worker stops: a wait for MySQL ends, the batch uncommitted
                raise
            except Exception as exc:
                # Going on would apply later transactions past these, and their stored positions
                # would then hide them for good: stop the worker instead (a restart replays them).
                log.critical("cannot apply a batch of %d events: %s; stopping the worker", len(work.events), exc)
                await app.crash(exc)
                return
            if result.skipped:
                log.info("skipped %d events applied before (replay or duplicate)", result.skipped)
            delivery.acknowledge(app.consumer, fetched.messages)
            progress.add(result)
            heartbeat.batch_applied()
            if work.mark is not None and work.mark.pause is not None:
                announce(work.mark.pause)

    @app.timer(HEARTBEAT_SECONDS)
    async def beat() -> None:
        lag = heartbeat.tick(app.consumer)
        if lag is not None and store.metrics is not None:
            store.metrics.set_consumer_lag(lag)

    @app.timer(CHECK_SECONDS)
    async def check_leadership() -> None:
        if leader is None:
            return
        try:
            leader.check()
        except LeadershipLost as error:
            log.critical("%s", error)
            store.stopping.set()  # a batch waiting for MySQL gives up, uncommitted
            await app.crash(error)

    @app.timer(GENERATION_CHECK_SECONDS)
    async def check_topic_generations() -> None:
        """Topics recreated while the worker runs stop it; topics created since it started are recorded."""
        loop = asyncio.get_running_loop()
        try:
            current = await loop.run_in_executor(None, topic_ids_now, kafka.bootstrap, assembly.topics())
            changed = recreated(topic_ids, current, set(topic_ids))
            if changed:
                raise TopicsRecreated(explain(changed, topic_ids, current))
            await loop.run_in_executor(None, generations.check, store.mysql, current)
        except TopicsRecreated as error:
            log.critical("%s", error)
            await app.crash(error)
        except (CdcError, pymysql.MySQLError) as exc:
            log.warning("cannot check the source topics' ids: %s", exc)

    return app


class Progress:
    """Counts applied batches and logs a line at most every `every` seconds."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.batches = self.applied = self.skipped = self.retries = 0
        self.since = time.monotonic()

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.applied += result.applied
        self.skipped += result.skipped
        self.retries += result.attempts - 1
        elapsed = time.monotonic() - self.since
        if elapsed >= self.every:
            log.info("applied %d events in %d batches in %.0f s (%.0f/s); %d skipped, %d retries",
                     self.applied, self.batches, elapsed, self.applied / elapsed, self.skipped, self.retries)
            self.batches = self.applied = self.skipped = self.retries = 0
            self.since = time.monotonic()


DEAD_LETTER_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0)


def send_until_delivered(deadletters: DeadLetterProducer, letters: Sequence[DeadLetter], store: MartStore) -> None:
    """Dead letters must be confirmed before the offsets around them are stored: a broker that cannot
    take them is waited out like a MySQL outage (a letter may then be sent twice: at least once)."""
    for attempt in itertools.count():
        try:
            deadletters.send(letters)
            if store.metrics is not None:
                store.metrics.dead_letters.inc(len(letters))
            return
        except DeadLetterError as exc:
            delay = DEAD_LETTER_RETRY_SECONDS[min(attempt, len(DEAD_LETTER_RETRY_SECONDS) - 1)]
            log.warning("%s; retrying in %.0f s", exc, delay)
            if store.stopping.wait(delay):
                raise StoreStopped(f"stopped while the dead-letter topic is unavailable ({exc})") from exc


