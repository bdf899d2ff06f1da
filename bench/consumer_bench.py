"""Replica consumer benchmark: drain rate of N Debezium events vs a no-Kafka MySQL ceiling.

    python -m bench.consumer_bench [--events 200000] [--keep-stack]

Starts its own local stack (cdc.local.stack.up, die_with_parent=True) in a
temporary folder and tears it down. The events are produced straight into
topics of a private prefix (bench<uid>.public.<table>, 4 partitions) in the
exact Debezium format (JSON without schemas): 70% creates, 20% updates of
earlier keys, 10% deletes, over orders and order_details. Then:

- drain: a Replicator (the code `cdc consume` runs, in-process) on an empty
  database; row changes/s from its first to its last applied batch;
- ceiling: the same final rows written straight to MySQL (another empty
  database) with the sink's multi-row upserts, 5000 rows a transaction.

Each measure runs --repeat times (fresh database and group each run); the
table shows the medians. Kafka Connect is stopped once the stack is up (the
events do not come from Debezium), so its JVM does not share the CPUs.
Prints one table with both rates and their ratio.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pymysql
from confluent_kafka import Producer

from cdc.local import stack as local_stack
from cdc.local.processes import stop
from cdc.settings import MySqlSettings
from cdc.topics import ensure_topics, source_topics
from consumer.app import Replicator
from consumer.replica_schema import REPLICA_TABLES, ensure_database, ensure_tables
from consumer.settings import ConsumerSettings
from consumer.sink import upsert_sql
from consumer.types import EPOCH

CEILING_BATCH = 5000


def order_row(key: int, rng: random.Random) -> dict[str, Any]:
    moment = datetime(2025, 1, 1) + timedelta(seconds=rng.randrange(30_000_000), microseconds=rng.randrange(10**6))
    return {"order_id": key, "user_id": rng.randrange(1, 10_000), "order_date": moment.isoformat() + "Z",
            "total_amount": f"{rng.randrange(100, 10**7) / 100:.2f}", "status": rng.choice(["pending", "paid"]),
            "delivery_date": (date(2025, 6, 1) - EPOCH).days + rng.randrange(300)}


def line_row(key: int, rng: random.Random) -> dict[str, Any]:
    quantity, price = rng.randrange(1, 5), rng.randrange(100, 100_000) / 100
    return {"order_detail_id": key, "order_id": rng.randrange(1, 10**6), "product_id": rng.randrange(1, 5000),
            "quantity": quantity, "price_per_unit": f"{price:.2f}", "total_price": f"{quantity * price:.2f}"}


def compact(value: Any) -> bytes:
    """JSON as Kafka Connect's JsonConverter writes it (no spaces)."""
    return json.dumps(value, separators=(",", ":")).encode()


def make_events(count: int, seed: int = 1) -> tuple[list[tuple[str, bytes, bytes | None]], dict[str, dict[int, Any]]]:
    """(table, key, value) messages and the final rows per table they leave behind."""
    rng = random.Random(seed)
    makers = {"orders": (order_row, "order_id"), "order_details": (line_row, "order_detail_id")}
    final: dict[str, dict[int, Any]] = {table: {} for table in makers}
    messages = []
    next_key = 1
    for _ in range(count):
        table = rng.choice(list(makers))
        make, key_name = makers[table]
        rows = final[table]
        roll = rng.random()
        if roll < 0.7 or not rows:
            key, op, before = next_key, "c", None
            next_key += 1
        else:
            key = rng.choice(list(rows)) if len(rows) < 1000 else rng.randrange(max(1, next_key - 1000), next_key)
            if key not in rows:
                key, op, before = next_key, "c", None
                next_key += 1
            else:
                op, before = ("u" if roll < 0.9 else "d"), rows[key]
        after = None if op == "d" else make(key, rng)
        value = {"before": before, "after": after, "op": op, "source": {"table": table}, "ts_ms": 0}
        messages.append((table, compact({key_name: key}), compact(value)))
        if op == "d":
            del rows[key]
            messages.append((table, compact({key_name: key}), None))  # the tombstone
        else:
            rows[key] = after
    return messages, final


def produce(bootstrap: str, prefix: str, messages: list[tuple[str, bytes, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                         "queue.buffering.max.messages": 1_000_000, "partitioner": "murmur2_random"})
    for table, key, value in messages:
        producer.produce(f"{prefix}.public.{table}", key=key, value=value)
        producer.poll(0)
    assert producer.flush(120) == 0, "the broker did not take every bench message"


def drain(settings: ConsumerSettings, expected_messages: int) -> tuple[float, int]:
    """Run the replicator until it committed every message; (seconds first..last batch, rows applied)."""
    replicator = Replicator(settings)
    stop = threading.Event()
    worker = threading.Thread(target=replicator.run, args=(stop,), daemon=True)
    worker.start()
    first = last = None
    deadline = time.monotonic() + 600
    while replicator.stats.messages < expected_messages and time.monotonic() < deadline:
        if first is None and replicator.stats.messages:
            first = time.monotonic()
        time.sleep(0.01)
    last = time.monotonic()
    stop.set()
    worker.join(30)
    assert replicator.stats.messages >= expected_messages, "the replicator did not drain the topics in time"
    return last - (first or last), replicator.stats.applied


def ceiling(settings: MySqlSettings, messages: list[Any]) -> float:
    """Seconds to write the converted rows of every change straight to MySQL with multi-row upserts."""
    conn = pymysql.connect(**{**settings.connect_kwargs(), "database": None}, charset="utf8mb4")  # type: ignore[arg-type]
    ensure_database(conn, settings.url.database)
    conn.select_db(settings.url.database)
    ensure_tables(conn)
    rows = []
    for table, _, value in messages:  # the same number of row changes, converted as the consumer does
        if value is None:
            continue
        envelope = json.loads(value)
        data = envelope["after"] or envelope["before"]
        spec = REPLICA_TABLES[table]
        rows.append((table, tuple(column.convert(data[column.name]) for column in spec.columns)))
    started = time.monotonic()
    with conn.cursor() as cur:
        for start in range(0, len(rows), CEILING_BATCH):
            chunk = rows[start:start + CEILING_BATCH]
            for table in ("orders", "order_details"):
                values = [row for name, row in chunk if name == table]
                if values:
                    cur.executemany(upsert_sql(REPLICA_TABLES[table]), values)
            conn.commit()
    seconds = time.monotonic() - started
    conn.close()
    return seconds


def database_url(base: MySqlSettings, database: str) -> MySqlSettings:
    return MySqlSettings(url=replace(base.url, database=database))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is shown")
    parser.add_argument("--keep-connect", action="store_true",
                        help="leave Kafka Connect running (by default it is stopped: its JVM would share the CPUs)")
    parser.add_argument("--keep-stack", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="cdc-consumer-bench-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        print(f"starting a stack in {folder} ...", flush=True)
        state = local_stack.up(folder, progress=lambda message: None, die_with_parent=True)
        env = state.env
        if not args.keep_connect:
            stop(state.processes["connect"])
        uid = uuid.uuid4().hex[:8]
        prefix = f"bench{uid}"
        ensure_topics(env["KAFKA_BOOTSTRAP"], source_topics(prefix), 4, 1)
        messages, _ = make_events(args.events)
        started = time.monotonic()
        produce(env["KAFKA_BOOTSTRAP"], prefix, messages)
        print(f"produced {len(messages)} messages ({args.events} row changes) in {time.monotonic() - started:.1f} s",
              flush=True)

        base = MySqlSettings.from_env(env)
        drains, ceilings = [], []
        for run in range(args.repeat):
            settings = replace(
                ConsumerSettings.from_env({**env, "TOPIC_PREFIX": prefix, "CONSUMER_GROUP": f"bench-{uid}-{run}",
                                           "STATS_INTERVAL": "5"}),
                mysql=database_url(base, f"bench_replica_{uid}_{run}"),
            )
            drains.append(drain(settings, len(messages)))
            ceilings.append(ceiling(database_url(base, f"bench_ceiling_{uid}_{run}"), messages))
            print(f"run {run + 1}: drain {args.events / drains[-1][0]:.0f}/s, ceiling {args.events / ceilings[-1]:.0f}/s",
                  flush=True)
        drain_seconds, applied = sorted(drains)[len(drains) // 2]
        ceiling_seconds = sorted(ceilings)[len(ceilings) // 2]

        drain_rate = args.events / max(drain_seconds, 1e-9)
        ceiling_rate = args.events / max(ceiling_seconds, 1e-9)
        print()
        print(f"{'measure':<40} {'row changes':>12} {'seconds':>8} {'changes/s':>10}")
        print(f"{'drain: Kafka -> consumer -> MySQL':<40} {args.events:>12} {drain_seconds:>8.2f} {drain_rate:>10.0f}")
        print(f"{'ceiling: multi-row upserts, no Kafka':<40} {args.events:>12} {ceiling_seconds:>8.2f} "
              f"{ceiling_rate:>10.0f}")
        print(f"{'ratio drain / ceiling':<40} {'':>12} {'':>8} {drain_rate / ceiling_rate:>10.0%}")
        print(f"(rows written by the consumer after coalescing: {applied})")
    finally:
        if not args.keep_stack:
            local_stack.down(folder, progress=lambda message: None)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
