"""Faust's read ceiling: how fast a bare Faust agent reads the marts' topics, against aiokafka alone.

    python -m bench.faust_read --stack-env DIR/stack.env

Needs a running stack (`cdc local up`) whose topics hold a backlog, e.g. after
`cdc generate seed --orders 20000`. Three readers, one after the other, each
in its own process, on a fresh consumer group from the start of the topics
the marts read (the five tables', the heartbeat table's, the transaction
topic), until it has read as many messages as the topics held when the
benchmark started; messages/s from the first message it got:

- aiokafka: AIOKafkaConsumer.getmany in a loop (the client Faust is built on);
- faust: an agent that only counts what `take_events` gives it, with Faust's
  own fetch-and-deliver loop;
- faust + marts.delivery: an agent that counts the fetches the marts' loop
  puts on its channel (one chunk per fetch, the marts' batch size).

Nothing is done with the messages: the two Faust rates are the most the marts
worker could read, whatever it does with them. Prints one table.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import topics
from bench.report import machine_line, measures_table
from bench.stack import stack_env
from consumer.offsets import end_offsets
from core.settings import KafkaSettings
from core.topic_names import consumed_topics

READERS = ("aiokafka", "faust", "faust+delivery")
BATCH = 1000


def backlog(kafka: KafkaSettings) -> int:
    consumer = topics.reader(kafka.bootstrap)
    try:
        ends = end_offsets(consumer, topics.partitions(consumer, consumed_topics(kafka.topic_prefix)), 10)
        return sum(ends.values())
    finally:
        consumer.close()


def report(messages: int, first: float) -> None:
    print(json.dumps({"messages": messages, "seconds": time.monotonic() - first}), flush=True)


class Progress:
    """Counts what a reader got; reports and ends the process once it has the target."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.read = 0
        self.first: float | None = None

    def add(self, messages: int) -> None:
        self.first = self.first or time.monotonic()
        self.read += messages
        if self.read >= self.target:
            report(self.read, self.first)
            os._exit(0)  # the measure is taken: no need for Faust's shutdown


async def read_with_aiokafka(kafka: KafkaSettings, target: int) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(*consumed_topics(kafka.topic_prefix), bootstrap_servers=kafka.bootstrap,
                                group_id=f"faust-read-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest")
    await consumer.start()
    read, first = 0, None
    while read < target:
        for messages in (await consumer.getmany(timeout_ms=1000, max_records=10 * BATCH)).values():
            first = first or time.monotonic()
            read += len(messages)
    assert first is not None
    report(read, first)
    await consumer.stop()


def read_with_faust(kafka: KafkaSettings, target: int, with_delivery: bool) -> None:
    import faust

    from marts import delivery
    from marts.settings import MartsSettings

    extra: dict[str, Any] = {"broker_max_poll_records": MartsSettings.batch_size} if with_delivery else {}
    app = faust.App(f"faust-read-{uuid.uuid4().hex[:8]}", broker=f"kafka://{kafka.bootstrap}", store="memory://",
                    datadir=tempfile.mkdtemp(prefix="faust-read-"), topic_allow_declare=False,
                    consumer_auto_offset_reset="earliest", stream_wait_empty=False, web_enabled=False,
                    broker_commit_every=BATCH, **extra)
    topic = app.topic(*consumed_topics(kafka.topic_prefix), key_serializer="raw", value_serializer="raw",
                      allow_empty=True)
    progress = Progress(target)
    if with_delivery:
        app.topics.add(topic)
        fetches = delivery.fetches_channel(app)

        @app.agent(fetches)
        async def count_fetches(stream: Any) -> None:
            async for fetched in stream:
                progress.add(len(fetched.messages))
    else:
        @app.agent(topic)
        async def count(stream: Any) -> None:
            async for taken in stream.take_events(BATCH, within=0.2):
                progress.add(len(taken))

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()


def run_reader(reader: str, env_file: Path, target: int) -> tuple[int, float]:
    result = subprocess.run([sys.executable, "-m", "bench.faust_read", "--stack-env", str(env_file),
                             "--reader", reader, "--target", str(target)],
                            capture_output=True, text=True, timeout=600)
    marker = '{"messages"'  # Faust logs what is printed, to stderr, behind a prefix
    output = (result.stdout + result.stderr).splitlines()
    lines = [line[line.index(marker):] for line in output if marker in line]
    if not lines:
        raise SystemExit(f"the {reader} reader failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    measured = json.loads(lines[-1].strip())
    return measured["messages"], measured["seconds"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-env", type=Path, required=True, help="a running stack's stack.env")
    parser.add_argument("--reader", choices=READERS, help=argparse.SUPPRESS)  # one reader, in its own process
    parser.add_argument("--target", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    kafka = KafkaSettings.from_env({**os.environ, **stack_env(args.stack_env)})
    if args.reader == "aiokafka":
        asyncio.run(read_with_aiokafka(kafka, args.target))
        return
    if args.reader is not None:
        read_with_faust(kafka, args.target, with_delivery=args.reader == "faust+delivery")
        return
    target = backlog(kafka)
    rows = []
    for reader in READERS:
        messages, seconds = run_reader(reader, args.stack_env, target)
        rows.append((f"{reader}: {messages} messages", f"{messages / seconds:,.0f} messages/s"))
        print(f"{rows[-1][0]} in {seconds:.1f} s", flush=True)
    print(measures_table(rows))
    print(machine_line("end"))


if __name__ == "__main__":
    main()
