"""The replica's side of recreated source topics (see core.generations).

The ids live in replica_topics. The replica's positions are the consumer
group's committed offsets, which the broker keeps, not MySQL: Apache Kafka
deletes them with their topic, but the local broker (tansu) keeps them for
the new topic, and a group's offsets cannot be reset reliably there. So
adopting or rebuilding leaves them alone and lists every partition of the
new topics in replica_rereads instead: the consumer reads a listed partition
from its log start at assignment, whatever the group committed there, and
its first commit there (one of this generation) takes it off the list.
"""
from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pymysql

from consumer.errors import TopicsRecreated
from consumer.replica_schema import LOOSE_OFFSETS, LOOSE_OFFSETS_DDL, REREADS, TOPICS, data_tables
from core import generations, watermark
from core.errors import MySqlUnavailable
from core.mysql import TABLE_OPTIONS, connect, fetch_all
from core.settings import MySqlSettings
from core.watermark import REPLICA_STAGE, WATERMARK_DDL

log = logging.getLogger(__name__)

TOPICS_DDL = generations.ids_ddl(TOPICS)
REREADS_DDL = f"""CREATE TABLE IF NOT EXISTS {REREADS} (
  topic VARCHAR(249) NOT NULL,
  partition_id INT NOT NULL,
  PRIMARY KEY (topic, partition_id)
) {TABLE_OPTIONS}"""
STAGE = generations.Stage(reader="the replica", positions="The consumer group's committed offsets",
                          command="cdc consume")

Where = tuple[str, int]  # (topic, partition)


def check(mysql: MySqlSettings, current: Mapping[str, str]) -> None:
    """Record the ids of topics not seen before; raise TopicsRecreated for a recorded one that changed."""
    with _transaction(mysql) as cur:
        stored = generations.stored_ids(cur, TOPICS)
        # A topic is recorded before anything of it is applied: every recorded topic counts as applied from.
        changed = generations.recreated(stored, current, stored)
        if changed:
            raise TopicsRecreated(generations.explain(STAGE, changed, stored, current))
        generations.record_ids(cur, TOPICS, {t: current[t] for t in generations.changed(stored, current)})


NO_SUCH_TABLE = 1146
UNKNOWN_DATABASE = 1049


def replica_topics(mysql: MySqlSettings, consumed: Iterable[str]) -> list[str]:
    """The topics the replica reads: `consumed` (ConsumerSettings.consumed_topics) and every one whose id it recorded,
    the topic of a table added to the publication among them; `consumed` only before the consumer's first start."""
    try:
        recorded = [topic for (topic,) in fetch_all(mysql, f"SELECT topic FROM {TOPICS}")]
    except pymysql.MySQLError as exc:
        if exc.args and exc.args[0] in (NO_SUCH_TABLE, UNKNOWN_DATABASE):
            recorded = []
        else:
            raise MySqlUnavailable(f"cannot read the replica's topics at {mysql.url.host}:{mysql.url.port}: "
                                   f"{exc}") from exc
    return sorted({*consumed, *recorded})


def adopt(mysql: MySqlSettings, current: Mapping[str, str], partitions: Mapping[str, list[int]]) -> list[str]:
    """Record the new ids, and read the recreated topics from their start (the replica stays); those topics."""
    with _transaction(mysql) as cur:
        changed = generations.changed(generations.stored_ids(cur, TOPICS), current)
        generations.record_ids(cur, TOPICS, {t: current[t] for t in changed})
        _add_rereads(cur, {t: partitions.get(t, []) for t in changed})
    log.info("replica adopted new topics: %s", ", ".join(changed) or "none changed")
    return changed


def rebuild(mysql: MySqlSettings, current: Mapping[str, str], partitions: Mapping[str, list[int]]) -> None:
    """Drop the replica's tables; the consumer creates them again and fills them from the topics' start."""
    with _transaction(mysql) as cur:
        for table in data_tables(cur):
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
        cur.execute(f"DELETE FROM {TOPICS}")
        generations.record_ids(cur, TOPICS, current)
        _add_rereads(cur, partitions)
    log.warning("replica tables dropped: the consumer rebuilds them from the topics' start")


def pending_rereads(mysql: MySqlSettings) -> set[Where]:
    """The partitions to read from their log start at their next assignment."""
    with _transaction(mysql) as cur:
        cur.execute(f"SELECT topic, partition_id FROM {REREADS}")
        return {(topic, partition) for topic, partition in cur.fetchall()}


def rereads_done(mysql: MySqlSettings, done: Collection[Where]) -> None:
    """The group committed on these partitions in this generation: its offsets there hold from now on."""
    with _transaction(mysql) as cur:
        for topic, partition in sorted(done):
            cur.execute(f"DELETE FROM {REREADS} WHERE topic = %s AND partition_id = %s", (topic, partition))


def table_names() -> list[str]:
    """The tables this module keeps (dropped with the replica when the local stack snapshots again)."""
    return [TOPICS, REREADS]


def _add_rereads(cur: Any, partitions: Mapping[str, list[int]]) -> None:
    if partitions:  # the new topics' transactions are all applied, whatever their LSN (core.watermark)
        watermark.forget(cur, REPLICA_STAGE)
    cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
                (LOOSE_OFFSETS,))
    if cur.fetchone() is not None:  # (a rebuild dropped it: nothing to forget then)
        for topic in sorted(partitions):  # and their reads, whatever their offsets
            cur.execute(f"DELETE FROM `{LOOSE_OFFSETS}` WHERE topic = %s", (topic,))
    for topic, numbers in sorted(partitions.items()):
        for partition in numbers:
            cur.execute(f"INSERT IGNORE INTO {REREADS} (topic, partition_id) VALUES (%s, %s)", (topic, partition))


@contextmanager
def _transaction(mysql: MySqlSettings) -> Iterator[Any]:
    """A cursor in one transaction on the replica database (created, with these tables, if missing)."""
    conn = connect(mysql, database=False)
    try:
        with conn.cursor() as cur:
            _ensure_tables(cur, mysql.url.database)
            yield cur
        conn.commit()
    except pymysql.MySQLError as exc:
        raise MySqlUnavailable(f"MySQL at {mysql.url.host}:{mysql.url.port}: {exc}") from exc
    finally:
        conn.close()


def _ensure_tables(cur: Any, database: str) -> None:
    cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    cur.execute(f"USE `{database}`")
    cur.execute(TOPICS_DDL)
    cur.execute(REREADS_DDL)
    cur.execute(WATERMARK_DDL)
    cur.execute(LOOSE_OFFSETS_DDL)
