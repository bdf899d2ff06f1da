"""Marts benchmark against a running stack (`cdc local up`; then: set -a; . DIR/stack.env; set +a).

    python bench/marts_bench.py [--orders 20000] [--rate 50] [--live-seconds 20] [--workers 1]

Measures, on its own MySQL database and consumer group:
1. backlog drain: `cdc marts` worker(s) started on topics already holding
   every event so far (seed included): events/s until all are applied;
2. freshness under live load (`cdc generate live`): per applied batch and
   partition, MySQL commit time minus the source commit time (Debezium's
   source.ts_ms), sampled from mart_offsets; p50/p99/max; and the share of
   it spent before the event reached Kafka (message timestamp - source.ts_ms);
3. one incremental update (one order's status change, its own transaction)
   vs recomputing both marts with their defining SQL on a MySQL copy of the
   source tables (the replica's shape) and on PostgreSQL.
It writes nothing but its own MySQL database (dropped unless --keep or a
mismatch) and prints the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pymysql
from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cdc.verify import render  # noqa: E402
from cdc.settings import SOURCE_TABLES, KafkaSettings, MySqlSettings, SourceSettings  # noqa: E402
from marts.events import Event, Position, RowChange  # noqa: E402
from marts.store import MartStore, connect  # noqa: E402
from marts.verify import DEFINITIONS, mart_reports  # noqa: E402

REPLICA_COLUMNS = {
    "users": ("user_id BIGINT PRIMARY KEY", "first_name TEXT", "last_name TEXT"),
    "product_categories": ("category_id BIGINT PRIMARY KEY", "name TEXT"),
    "products": ("product_id BIGINT PRIMARY KEY", "category_id BIGINT", "KEY (category_id)"),
    "orders": ("order_id BIGINT PRIMARY KEY", "user_id BIGINT", "status VARCHAR(32)", "total_amount DECIMAL(12,2)",
               "KEY (user_id)"),
    "order_details": ("order_detail_id BIGINT PRIMARY KEY", "order_id BIGINT", "product_id BIGINT",
                      "quantity INT", "total_price DECIMAL(12,2)", "KEY (order_id)", "KEY (product_id)"),
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def end_offsets(kafka: KafkaSettings) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"bench-{uuid.uuid4().hex}"})
    try:
        out = {}
        for table in SOURCE_TABLES:
            topic = kafka.table_topic(table)
            for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                if high > low:
                    out[(topic, partition)] = high - 1
        return out
    finally:
        consumer.close()


def applied_offsets(conn: Any) -> dict[tuple[str, int], tuple[int, Any, Any]]:
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT topic, partition_id, last_offset, source_ts_ms, applied_at FROM mart_offsets")
        except pymysql.MySQLError:
            conn.rollback()
            return {}
        rows = cur.fetchall()
    conn.rollback()
    return {(t, p): (o, ts, at) for t, p, o, ts, at in rows}


def wait_caught_up(conn: Any, target: dict[tuple[str, int], int], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = applied_offsets(conn)
        if all(done.get(tp, (-1,))[0] >= offset for tp, offset in target.items()):
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit("the worker did not catch up in time")


def settled_end_offsets(kafka: KafkaSettings, quiet: float = 3.0) -> dict[tuple[str, int], int]:
    """The end offsets once Debezium has published everything (no change for `quiet` seconds)."""
    last, since = end_offsets(kafka), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.5)
        now = end_offsets(kafka)
        if now != last:
            last, since = now, time.monotonic()
    return last


def drain(env: dict[str, str], kafka: KafkaSettings, mysql: MySqlSettings, log: Path,
          count: int) -> list[subprocess.Popen[bytes]]:
    target = settled_end_offsets(kafka)
    events = sum(offset + 1 for offset in target.values())
    started = time.monotonic()
    workers = [subprocess.Popen(["cdc", "marts"], env=env, stdout=log.with_suffix(f".{n}.log").open("wb"),
                                stderr=subprocess.STDOUT) for n in range(count)]
    conn = wait_for_connection(mysql)
    while not applied_offsets(conn):
        time.sleep(0.02)
    first = time.monotonic()
    done = wait_caught_up(conn, target, 600)
    conn.close()
    print(f"backlog with {count} worker(s): {events} events; worker start to first batch {first - started:.1f} s; "
          f"drained in {done - first:.1f} s = {events / (done - first):.0f} events/s "
          f"({events / (done - started):.0f} events/s including startup and group join)")
    return workers


def wait_for_connection(mysql: MySqlSettings) -> Any:
    for _ in range(200):
        try:
            return connect(mysql)
        except Exception:  # the worker creates the database
            time.sleep(0.1)
    raise SystemExit("no MySQL database")


def freshness(env: dict[str, str], kafka: KafkaSettings, mysql: MySqlSettings, rate: float, seconds: float) -> None:
    conn = connect(mysql)
    seen = applied_offsets(conn)
    lags: list[float] = []
    generator = subprocess.Popen(
        ["cdc", "generate", "live", "--rate", str(rate), "--duration", str(seconds), "--seed", "77"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    tail = KafkaLag(kafka)
    while generator.poll() is None:
        lags.extend(new_lags(conn, seen))
        tail.poll(0.02)
    wait_caught_up(conn, settled_end_offsets(kafka), 120)
    lags.extend(new_lags(conn, seen))
    tail.poll(1.0)
    tail.close()
    conn.close()
    if lags:
        print(f"freshness under live load ({rate:g} tx/s for {seconds:g} s, {len(lags)} samples): "
              f"p50 {1000 * percentile(lags, 0.5):.0f} ms, p99 {1000 * percentile(lags, 0.99):.0f} ms, "
              f"max {1000 * max(lags):.0f} ms")
    if tail.lags:
        print(f"  of which source commit -> Kafka (Debezium, {len(tail.lags)} events): "
              f"p50 {1000 * percentile(tail.lags, 0.5):.0f} ms, p99 {1000 * percentile(tail.lags, 0.99):.0f} ms")


class KafkaLag:
    """Tails the source topics from their end: message timestamp (produced) minus source commit time."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"bench-{uuid.uuid4().hex}"})
        self.consumer.assign([TopicPartition(topic, partition, offset + 1)
                              for (topic, partition), offset in end_offsets(kafka).items()])
        self.lags: list[float] = []

    def poll(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.consumer.poll(0.01)
            if message is None or message.error() or not message.value():
                continue
            source_ts = json.loads(message.value()).get("source", {}).get("ts_ms")
            if source_ts:
                self.lags.append((message.timestamp()[1] - source_ts) / 1000)

    def close(self) -> None:
        self.consumer.close()


def new_lags(conn: Any, seen: dict[tuple[str, int], tuple[int, Any, Any]]) -> list[float]:
    out = []
    for tp, row in applied_offsets(conn).items():
        offset, source_ts, applied_at = row
        if seen.get(tp, (-1,))[0] < offset and source_ts is not None:
            out.append(applied_at.timestamp() - source_ts / 1000)
        seen[tp] = row
    return out


def copy_source(source: SourceSettings, conn: Any) -> int:
    pg = psycopg2.connect(source.dsn)
    rows_copied = 0
    try:
        with pg, pg.cursor() as pcur, conn.cursor() as cur:
            for table, columns in REPLICA_COLUMNS.items():
                names = [c.split()[0] for c in columns if not c.startswith("KEY")]
                cur.execute(f"DROP TABLE IF EXISTS replica_{table}")
                cur.execute(f"CREATE TABLE replica_{table} ({', '.join(columns)}) DEFAULT CHARSET=utf8mb4")
                pcur.execute(f"SELECT {', '.join(names)} FROM {table}")
                rows = pcur.fetchall()
                for start in range(0, len(rows), 5000):
                    cur.executemany(f"INSERT INTO replica_{table} VALUES ({', '.join(['%s'] * len(names))})",
                                    rows[start:start + 5000])
                rows_copied += len(rows)
        conn.commit()
    finally:
        pg.close()
    return rows_copied


def recompute_vs_incremental(source: SourceSettings, mysql: MySqlSettings) -> None:
    conn = connect(mysql)
    rows = copy_source(source, conn)
    mysql_times = []
    for _ in range(5):
        started = time.perf_counter()
        with conn.cursor() as cur:
            for definition in DEFINITIONS:
                sql = definition.sql
                for table in REPLICA_COLUMNS:
                    sql = sql.replace(f" {table} ", f" replica_{table} ")
                cur.execute(sql)
                cur.fetchall()
        conn.rollback()
        mysql_times.append(time.perf_counter() - started)
    pg = psycopg2.connect(source.dsn)
    pg_times = []
    for _ in range(5):
        started = time.perf_counter()
        with pg, pg.cursor() as cur:
            for definition in DEFINITIONS:
                cur.execute(definition.sql)
                cur.fetchall()
        pg_times.append(time.perf_counter() - started)
    pg.close()
    with conn.cursor() as cur:
        cur.execute("SELECT order_id, user_id, status, total_amount FROM mart_state_orders"
                    " WHERE status <> 'cancelled' ORDER BY order_id LIMIT 100")
        orders = cur.fetchall()
    conn.close()
    store, offset, times = MartStore(mysql), 0, []
    try:
        for order_id, user_id, status, amount in orders:
            for new_status in ("cancelled", status):  # there and back: the marts end as they were
                event = Event(Position("bench.orders", 0, offset), RowChange("orders", order_id,
                              (order_id, user_id, new_status, Decimal(amount))))
                offset += 1
                started = time.perf_counter()
                store.apply([event])
                times.append(time.perf_counter() - started)
    finally:
        store.close()
    print(f"recompute both marts with the defining SQL ({rows} source rows): "
          f"MySQL copy median {1000 * statistics.median(mysql_times):.0f} ms, "
          f"PostgreSQL median {1000 * statistics.median(pg_times):.0f} ms")
    print(f"one incremental update (an order's status change, own transaction, {len(times)} runs): "
          f"median {1000 * statistics.median(times):.1f} ms, p99 {1000 * percentile(times, 0.99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20000, help="extra seeded orders (0: none)")
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--live-seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1, help="marts workers sharing the partitions")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's MySQL database")
    args = parser.parse_args()
    source, kafka = SourceSettings.from_env(), KafkaSettings.from_env()
    base = MySqlSettings.from_env()
    name = f"marts_bench_{uuid.uuid4().hex[:8]}"
    mysql = MySqlSettings(replace(base.url, database=name))
    env = {**os.environ, "MYSQL_URL": f"mysql://{base.url.user}@{base.url.host}:{base.url.port}/{name}",
           "MARTS_APP_ID": f"bench-{name}", "MARTS_DATA_DIR": f"/tmp/{name}"}
    if args.orders:
        subprocess.run(["cdc", "generate", "seed", "--append", "--orders", str(args.orders), "--users",
                        str(args.orders // 5), "--products", str(args.orders // 20), "--categories", "20",
                        "--seed", str(int(time.time()))], env=env, check=True, capture_output=True)
    log = Path(f"/tmp/{name}.log")
    print(f"worker logs: {log.with_suffix('.*.log')}")
    workers = drain(env, kafka, mysql, log, args.workers)
    reports = []
    try:
        freshness(env, kafka, mysql, args.rate, args.live_seconds)
        for _ in range(30):
            reports = mart_reports(source, mysql)
            if all(report.matches for report in reports):
                break
            time.sleep(1)
        if not all(report.matches for report in reports):
            print(render(reports))
        print("verification:", ", ".join(f"{r.name} {'OK' if r.matches else 'MISMATCH'} ({r.source_rows} rows)"
                                          for r in reports))
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
    recompute_vs_incremental(source, mysql)
    if not args.keep and reports and all(report.matches for report in reports):
        conn = connect(base)
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE `{name}`")
        conn.close()


if __name__ == "__main__":
    main()
