"""The Faust app: transport, consumer group and scale-out for the marts.

Faust delivers the five source topics' messages to one agent, which takes
them in batches (take_events) and hands each batch to a MartStore on a
single worker thread (MySQL calls would otherwise block the event loop and
with it the consumer's heartbeats). No Faust tables are used: the state
lives in MySQL next to the marts (see marts.store). Faust acks a batch's
events only after the agent is done with them, i.e. after the MySQL commit,
so the offsets Faust commits to Kafka never run ahead of MySQL; replays
below MySQL's stored offsets are skipped there. A message that cannot be
decoded goes to the marts' dead-letter topic before its batch is applied
(once the batch's offsets are stored, a replay would skip it for good).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from cdc.deadletter import DeadLetter, DeadLetterProducer, RawMessage
from cdc.limits import MESSAGE_MAX_BYTES
from cdc.settings import SOURCE_TABLES, KafkaSettings
from marts.events import Event, MalformedEvent, Position, decode
from marts.settings import MartsSettings
from marts.store import BatchResult, MartStore

log = logging.getLogger(__name__)


def create_app(settings: MartsSettings, kafka: KafkaSettings, store: MartStore,
               deadletters: DeadLetterProducer) -> faust.App:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
    )
    app.marts_fetch_wait_ms = settings.fetch_wait_ms  # type: ignore[attr-defined]
    _shorten_fetch_wait()
    tables = {kafka.table_topic(table): table for table in SOURCE_TABLES}
    topic = app.topic(*tables, key_serializer="raw", value_serializer="raw", allow_empty=True)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="marts-mysql")
    progress = Progress()

    @app.agent(topic, name="marts")
    async def apply_changes(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            batch, letters = decode_batch(events, tables)

            def dead_letters_then_apply() -> BatchResult:
                deadletters.send(letters)
                return store.apply(batch)

            try:
                result = await loop.run_in_executor(executor, dead_letters_then_apply)
            except Exception as exc:
                # Going on would apply later events past this batch's, and their stored offsets
                # would then hide it for good: stop the worker instead (a restart replays it).
                log.critical("cannot apply a batch of %d events (from %s): %s; stopping the worker",
                             len(batch), batch[0].position, exc)
                await app.crash(exc)
                return
            if result.skipped:
                log.info("skipped %d events applied before (replay or duplicate)", result.skipped)
            progress.add(result)

    return app


def _shorten_fetch_wait() -> None:
    """Faust creates its aiokafka consumer with fetch_max_wait_ms=1500 and no setting for it: once per
    process, wrap that creation to use the app's marts_fetch_wait_ms (read by the consumer at start)."""
    thread = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread._create_worker_consumer, "marts_wrapped", False):
        return
    original = thread._create_worker_consumer

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        wait = getattr(self.app, "marts_fetch_wait_ms", None)
        if wait is not None and hasattr(consumer, "_fetch_max_wait_ms"):
            consumer._fetch_max_wait_ms = wait
        return consumer

    create.marts_wrapped = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = create  # type: ignore[method-assign]


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


def decode_batch(events: Sequence[Any], tables: dict[str, str]) -> tuple[list[Event], list[DeadLetter]]:
    """Decode Faust events; a malformed one becomes a dead letter and stays in the batch as a no-op
    (so that its offset counts)."""
    decoded, letters = [], []
    for event in events:
        message = event.message
        position = Position(message.topic, message.partition, message.offset)
        try:
            decoded.append(decode(position, tables[message.topic], message.value))
        except MalformedEvent as exc:
            raw = RawMessage(message.topic, message.partition, message.offset, message.key, message.value)
            letters.append(DeadLetter(raw, str(exc), "decode"))
            decoded.append(Event(position, None))
    return decoded, letters
