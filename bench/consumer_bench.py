"""Replica consumer benchmark: end-to-end latency under live load, and drain rate vs a no-Kafka MySQL ceiling.

    python -m bench.consumer_bench [--events 200000] [--live-rate 1800] [--live-seconds 20] [--keep-stack]

Starts its own local stack (cdc.local.stack.up, die_with_parent=True) in a
temporary folder and tears it down.

Latency (first, with Kafka Connect + Debezium running): `cdc generate seed`
(small), a Replicator (in-process) on its own database and group drains the
seed, then `cdc generate live --rate R` runs for --live-seconds. For every
change the replicator applies whose source commit came after the live run
started: Debezium's `source.ts_ms` (the PostgreSQL commit time, ms) ->
the wall time right after the MySQL commit of its batch (the
Replicator's on_batch_committed hook). p50 and p99 are shown, and the
part of them before Kafka (source commit -> Debezium's own ts_ms).

The load: the issue asks for 500 orders/s. The generator's rate is in
transactions/s, about 28% of them new orders, so the default R=1800 asks for
~500 new orders/s. On the 2-core machine, next to PostgreSQL, Debezium, the
broker, MariaDB and the consumer, one generator process reaches only about
900 tx/s (~250 new orders/s): the latency is then measured under the highest
load this machine can generate, and the table prints the transactions/s and
new orders/s actually achieved, from the generator's own summary, never the
requested rate.

Then the drain and ceiling. The events are produced straight into
topics of a private prefix (bench<uid>.public.<table>, 4 partitions) in the
exact Debezium format (JSON without schemas): 70% creates, 20% updates of
earlier keys, 10% deletes, over orders and order_details. Then:

- drain: a Replicator (the code `cdc consume` runs, in-process) on an empty
  database; row changes/s from its first to its last applied batch;
- ceiling: the same rows written straight to MySQL (another empty
  database) with PyMySQL's executemany of the sink's upsert_sql, which
  PyMySQL turns into multi-row upserts, 5000 rows a transaction.

Each measure runs --repeat times (fresh database and group each run); the
table shows the medians. Kafka Connect is stopped after the latency part
(these events do not come from Debezium), so its JVM does not share the CPUs.
Prints one table: the machine, both rates and their ratio, and the latency.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import subprocess
import sys
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
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
from consumer.batch import Batch
from consumer.replica_schema import REPLICA_TABLES, ensure_database, ensure_tables
from consumer.settings import ConsumerSettings
from consumer.sink import upsert_sql
from consumer.types import EPOCH

CEILING_BATCH = 5000
SEED_ARGS = ("--users", "1000", "--categories", "20", "--products", "500", "--orders", "2000", "--seed", "3")
QUIET_SECONDS = 3.0  # no new message for this long: the replicator has caught up


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


@dataclass(frozen=True)
class Latency:
    samples: list[float]  # seconds, source commit -> visible in MySQL, one per applied change
    debezium: list[float]  # seconds, source commit -> Debezium's ts_ms (the part before Kafka), same changes
    transactions_per_second: float  # as the generator reports it
    orders_per_second: float  # new orders committed per second
    live_seconds: float

    def percentile(self, fraction: float, samples: list[float] | None = None) -> float:
        ordered = sorted(self.samples if samples is None else samples)
        return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def run_cdc(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "cdc", *args], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"cdc {' '.join(args)} failed: {result.stdout}{result.stderr}"
    return result.stdout


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


def event_times(batch: Batch) -> list[tuple[int, int]]:
    """(source.ts_ms: the source commit, ts_ms: Debezium saw it), in ms, of every change the batch applied."""
    envelopes = [json.loads(action.event.raw.value) for changes in batch.tables.values()
                 for action in changes.actions.values() if action.event.raw.value is not None]
    return [(envelope["source"]["ts_ms"], envelope["ts_ms"]) for envelope in envelopes]


def latency(env: dict[str, str], settings: ConsumerSettings, rate: float, seconds: float) -> Latency:
    """Seed, drain the seed, then measure source commit -> MySQL commit under `cdc generate live`."""
    run_cdc(env, "generate", "seed", *SEED_ARGS)
    committed: list[tuple[float, Batch]] = []
    replicator = Replicator(settings, on_batch_committed=lambda batch: committed.append((time.time(), batch)))
    stop_event = threading.Event()
    worker = threading.Thread(target=replicator.run, args=(stop_event,), daemon=True)
    worker.start()
    try:
        wait_quiet(replicator, 300)
        live_started_ms = time.time() * 1000
        report = run_cdc(env, "generate", "live", "--rate", f"{rate:g}", "--duration", f"{seconds:g}", "--seed", "7")
        wait_quiet(replicator, 120)
    finally:
        stop_event.set()
        worker.join(30)
    times = [(done, source, seen) for done, batch in committed for source, seen in event_times(batch)
             if source >= live_started_ms]
    achieved = re.search(r"achieved ([\d.]+) transactions/s .* over ([\d.]+) s", report)
    orders = re.search(r"^new_order\s+([\d,]+)$", report, re.MULTILINE)
    assert achieved and orders, f"unexpected generator report:\n{report}"
    elapsed = float(achieved.group(2))
    return Latency([done - source / 1000 for done, source, _ in times], [(seen - source) / 1000 for _, source, seen in times],
                   float(achieved.group(1)), int(orders.group(1).replace(",", "")) / elapsed, elapsed)


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {model}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; load average at start {load}")


def database_url(base: MySqlSettings, database: str) -> MySqlSettings:
    return MySqlSettings(url=replace(base.url, database=database))


def print_table(host: str, events: int, drain_seconds: float, ceiling_seconds: float, applied: int,
                lag: Latency, live_rate: float) -> None:
    drain_rate = events / max(drain_seconds, 1e-9)
    ceiling_rate = events / max(ceiling_seconds, 1e-9)
    print()
    print(host)
    print(f"{'measure':<44} {'row changes':>12} {'seconds':>8} {'changes/s':>10}")
    print(f"{'drain: Kafka -> consumer -> MySQL':<44} {events:>12} {drain_seconds:>8.2f} {drain_rate:>10.0f}")
    print(f"{'ceiling: multi-row upserts, no Kafka':<44} {events:>12} {ceiling_seconds:>8.2f} {ceiling_rate:>10.0f}")
    print(f"{'ratio drain / ceiling':<44} {'':>12} {'':>8} {drain_rate / ceiling_rate:>10.0%}")
    print(f"{'latency p50: source commit -> MySQL commit':<44} {len(lag.samples):>12} {'':>8} "
          f"{lag.percentile(0.50) * 1000:>8.0f} ms")
    print(f"{'latency p99: source commit -> MySQL commit':<44} {len(lag.samples):>12} {'':>8} "
          f"{lag.percentile(0.99) * 1000:>8.0f} ms")
    print(f"{'  of which source commit -> Debezium p50/p99':<44} {'':>12} {'':>8} "
          f"{lag.percentile(0.50, lag.debezium) * 1000:>4.0f}/{lag.percentile(0.99, lag.debezium) * 1000:.0f} ms")
    print(f"(rows written by the consumer after coalescing: {applied}; latency under `cdc generate live --rate "
          f"{live_rate:g}`: achieved {lag.transactions_per_second:.0f} transactions/s = "
          f"{lag.orders_per_second:.0f} new orders/s, over {lag.live_seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is shown")
    parser.add_argument("--live-rate", type=float, default=1800.0,
                        help="transactions/s asked of `cdc generate live` during the latency measure "
                             "(~28%% new orders: 1800 asks for ~500 orders/s; the achieved rate is printed)")
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument("--keep-connect", action="store_true",
                        help="leave Kafka Connect running for the drain and ceiling (by default it is stopped "
                             "after the latency measure: its JVM would share the CPUs)")
    parser.add_argument("--keep-stack", action="store_true")
    args = parser.parse_args()

    host = machine()
    folder = Path(tempfile.mkdtemp(prefix="cdc-consumer-bench-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        print(f"starting a stack in {folder} ...", flush=True)
        state = local_stack.up(folder, progress=lambda message: None, die_with_parent=True)
        env = state.env
        uid = uuid.uuid4().hex[:8]
        base = MySqlSettings.from_env(env)

        print(f"latency: seed, then `cdc generate live --rate {args.live_rate:g}` for {args.live_seconds:g} s ...",
              flush=True)
        lag = latency(env, replace(ConsumerSettings.from_env({**env, "CONSUMER_GROUP": f"bench-latency-{uid}"}),
                                   mysql=database_url(base, f"bench_latency_{uid}")),
                      args.live_rate, args.live_seconds)
        if not args.keep_connect:
            stop(state.processes["connect"])

        prefix = f"bench{uid}"
        ensure_topics(env["KAFKA_BOOTSTRAP"], source_topics(prefix), 4, 1)
        messages, _ = make_events(args.events)
        started = time.monotonic()
        produce(env["KAFKA_BOOTSTRAP"], prefix, messages)
        print(f"produced {len(messages)} messages ({args.events} row changes) in {time.monotonic() - started:.1f} s",
              flush=True)

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
        print_table(host, args.events, drain_seconds, ceiling_seconds, applied, lag, args.live_rate)
    finally:
        gc.collect()  # the finished replicators' Kafka clients (in reference cycles) would log the broker's stop
        if not args.keep_stack:
            local_stack.down(folder, progress=lambda message: None)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
