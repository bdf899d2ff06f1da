"""Carrying the pipeline across a restart of the local stack's in-memory broker.

The local broker (tansu) keeps topics in memory: `cdc local down`/`up`, or a
restart of the broker alone, starts every topic again at offset 0 with a new
id, and with them Kafka Connect's stored source position and the consumer
groups' offsets. Two ways across, chosen by what the old topics' readers had
done when the broker stopped:

- **handover** (the normal `down`): the connector is stopped first and its
  source position saved; then the stack's two sinks get a few seconds to
  apply the old topics to their end (drained). After the broker restarts,
  the connector is created STOPPED, given the saved position and resumed,
  so the new topics hold exactly the changes after the old ones. The marts
  adopt the new topics (their stored offsets belonged to the old ones), and
  so does the replica (it reads them from their start).
- **resnapshot** (a sink was not drained, or the stack did not stop cleanly,
  or a sink never ran): changes that were only in the old topics are gone,
  so the connector starts without a position and snapshots the source
  again, and the sinks that hold data are dropped and rebuilt from the new
  topics (the replica's tables and the marts; the workers create them
  again).

Both end exact; the handover keeps the sinks' tables and costs no snapshot.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pymysql
from confluent_kafka import Consumer

from connectors.settings import ConnectorSettings
from consumer import generations as replica_generations
from consumer.offsets import PartitionLag, partition_lags
from consumer.replica_schema import data_tables
from consumer.settings import ConsumerSettings
from core.errors import CdcError, MySqlUnavailable
from core.kafka_connect import ConnectClient
from core.mysql import close_quietly, connect, fetch_all
from core.settings import KafkaSettings, MySqlSettings
from core.topic_names import source_topics
from core.topics import ensure_topics, topic_ids, topic_partitions
from marts import generations
from marts.schema import OFFSETS, all_tables

log = logging.getLogger(__name__)

DRAIN_SECONDS = 60.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Handover:
    """What `down` saved for the next broker: the connector's source position, and whether the sinks drained."""

    connector_offsets: list[dict[str, Any]]
    drained: bool

    def to_json(self) -> dict[str, Any]:
        return {"connector_offsets": self.connector_offsets, "drained": self.drained}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Handover | None:
        return None if not data else cls(list(data["connector_offsets"]), bool(data["drained"]))

    @property
    def usable(self) -> bool:
        return self.drained and bool(self.connector_offsets)


def prepare(env: Mapping[str, str], progress: Progress) -> Handover:
    """Stop the connector, save its position, and wait until the sinks have applied every topic to its end."""
    settings = ConnectorSettings.from_env(env)
    client = ConnectClient(settings.connect_url, request_timeout=10)
    try:
        if settings.name not in client.connectors():
            return Handover([], drained=False)
        client.stop(settings.name)
        client.wait_until_stopped(settings.name, timeout=30)
        offsets = client.offsets(settings.name)
    except CdcError as exc:
        progress(f"cannot save the connector's position ({exc}); the next start snapshots again")
        return Handover([], drained=False)
    if not _sinks_ran(env):
        progress("connector stopped, position saved; the consumer or the marts never ran on this stack, "
                 "so the next start snapshots the source again")
        return Handover(offsets, drained=False)
    progress("connector stopped, position saved; waiting for the consumer and the marts to catch up")
    return Handover(offsets, _wait_drained(env, progress))


def _sinks_ran(env: Mapping[str, str]) -> bool:
    """Both of the stack's sinks have applied something here (their progress can be checked)."""
    try:
        if not fetch_all(MySqlSettings.from_env(env), "SHOW TABLES LIKE %s", (OFFSETS,)):
            return False
        lags = _consumer_lags(env, _table_topics(env))
    except Exception:  # noqa: BLE001 - unknown progress: treat as not run
        return False
    return any(lag.committed is not None for lag in lags)


def _table_topics(env: Mapping[str, str]) -> list[str]:
    """The replicated tables' topics: the five source tables' and those of tables added to the publication since
    (recorded by the consumer: consumer.generations)."""
    settings = ConsumerSettings.from_env(env)
    consumed = settings.consumed_topics()
    added = [topic for topic in replica_generations.replica_topics(settings.mysql, consumed) if topic not in consumed]
    return [*source_topics(settings.kafka.topic_prefix), *added]


def _consumer_lags(env: Mapping[str, str], topics: list[str]) -> list[PartitionLag]:
    """The stack's consumer group: committed offset and end (from a fetch) of every partition of `topics`."""
    kafka = KafkaSettings.from_env(env)
    group = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": ConsumerSettings.from_env(env).group_id,
                      "enable.auto.commit": False})
    try:
        return partition_lags(group, topics)
    finally:
        group.close()


def _wait_drained(env: Mapping[str, str], progress: Progress) -> bool:
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        behind = undrained(env)
        if not behind:
            progress("consumer and marts have applied every change")
            return True
        if time.monotonic() > deadline:
            progress(f"not caught up after {DRAIN_SECONDS:.0f} s ({'; '.join(behind)}): "
                     f"the next start snapshots again and rebuilds the replica and the marts")
            return False
        time.sleep(1.0)


def undrained(env: Mapping[str, str]) -> list[str]:
    """Why the stack's sinks have not applied the source topics to their end (empty: they have)."""
    try:
        topics = _table_topics(env)
        lags = _consumer_lags(env, topics)
    except Exception as exc:  # noqa: BLE001 - any failure means "not known to be drained"
        return [f"cannot read the consumer's progress: {exc}"]
    partitions = ConnectorSettings.from_env(env).topic_partitions
    seen = Counter(lag.topic for lag in lags)
    behind = [f"{topic}: {seen[topic]} of {partitions} partitions known" for topic in topics
              if seen[topic] != partitions]  # unknown partitions cannot count as drained
    behind += [f"consumer {lag.topic}[{lag.partition}] {lag.lag} behind" for lag in lags
               if lag.high > 0 and lag.committed != lag.high]
    marts_topics = set(source_topics(KafkaSettings.from_env(env).topic_prefix))  # not the tables added later
    ends = {(lag.topic, lag.partition): lag.high for lag in lags if lag.topic in marts_topics}
    return behind + _marts_behind(MySqlSettings.from_env(env), ends)


def _marts_behind(mysql: MySqlSettings, ends: Mapping[tuple[str, int], int]) -> list[str]:
    try:
        applied = dict(fetch_all(mysql, f"SELECT CONCAT(topic, '|', partition_id), last_offset FROM {OFFSETS}"))
    except (pymysql.MySQLError, MySqlUnavailable) as exc:
        return [f"cannot read the marts' progress: {exc}"]
    behind = []
    for (topic, partition), end in sorted(ends.items()):
        last = applied.get(f"{topic}|{partition}", -1)
        if end > 0 and last + 1 < end:
            behind.append(f"marts {topic}[{partition}] {end - last - 1} behind")
    return behind


def restore(env: Mapping[str, str], handover: Handover | None, config: dict[str, str],
            progress: Progress) -> None:
    """On a new broker: resume the connector where it stopped (and the marts adopt the new topics),
    or let it snapshot again and drop the sinks' tables so that the workers rebuild them."""
    settings = ConnectorSettings.from_env(env)
    client = ConnectClient(settings.connect_url, request_timeout=10)
    name = settings.name
    if handover is not None and handover.usable:
        progress("resuming the connector from its saved position (no new snapshot)")
        if name in client.connectors():
            client.delete(name)
        client.create_stopped(name, config)
        client.alter_offsets(name, handover.connector_offsets)
        client.resume(name)
        kafka = KafkaSettings.from_env(env)
        marts_topics = generations.read_topics(kafka.topic_prefix)  # positions in each are the old broker's
        _adopt_marts(env, topic_ids(kafka.bootstrap, marts_topics))
        replica = ConsumerSettings.from_env(env)
        # The schema changes' and the signals' topics too, and those of tables added to the publication: created
        # ahead on the new broker (as the five tables' are) so that they are adopted, not seen as recreated.
        replica_topics = replica_generations.replica_topics(replica.mysql, replica.consumed_topics())
        ensure_topics(kafka.bootstrap, [topic for topic in replica_topics if topic not in replica.consumed_topics()],
                      ConnectorSettings.from_env(env).topic_partitions, kafka.replication_factor)
        _adopt_replica(env, topic_ids(kafka.bootstrap, replica_topics), topic_partitions(kafka.bootstrap,
                                                                                         replica_topics))
    elif _sinks_hold_data(MySqlSettings.from_env(env)):
        progress("the previous broker's changes were not all applied: the connector snapshots the source "
                 "again and the replica and the marts are rebuilt from it")
        _drop_sinks(MySqlSettings.from_env(env))


def _adopt_marts(env: Mapping[str, str], ids: Mapping[str, str]) -> None:
    mysql = MySqlSettings.from_env(env)
    if fetch_all(mysql, "SHOW TABLES LIKE %s", (OFFSETS,)):
        generations.adopt(mysql, ids)


def _adopt_replica(env: Mapping[str, str], ids: Mapping[str, str], partitions: Mapping[str, list[int]]) -> None:
    mysql = MySqlSettings.from_env(env)
    if fetch_all(mysql, "SHOW TABLES LIKE %s", (replica_generations.TOPICS,)):
        replica_generations.adopt(mysql, ids, partitions)


def _sinks_hold_data(mysql: MySqlSettings) -> bool:
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            names = data_tables(cur) + [OFFSETS]
    finally:
        close_quietly(conn)
    found = {name for (name,) in fetch_all(mysql, "SHOW TABLES")}
    return any(name in found for name in names)


def _drop_sinks(mysql: MySqlSettings) -> None:
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            tables = data_tables(cur) + replica_generations.table_names() + all_tables()
            for table in tables:
                cur.execute(f"DROP TABLE IF EXISTS `{table}`")  # DDL: committed by itself
    finally:
        close_quietly(conn)
