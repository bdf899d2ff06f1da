"""Which generation of each source topic a stage's stored positions refer to.

Offsets only mean something within one life of a topic. A topic deleted and
created again (a wiped broker, the local stack's in-memory broker after a
restart) starts again at offset 0 with a new id, and a stage that goes on
from its old positions silently skips or misreads the new topic. So each
stage (the replica consumer, the marts worker) records the id of every
source topic in a table of its own, checks it at start and while it runs,
and stops loudly when a topic it applied from was recreated. The way out
depends on what the new topic holds, which only the operator (or `cdc
local`, which knows) can tell:

- adopt: the old topic was applied to its end and the new one continues
  where it stopped (the connector resumed from its stored source position):
  forget the old positions, keep the stage's tables;
- rebuild: the new topic starts with a fresh snapshot of the source: drop
  the stage's tables and apply the new topics from their start.

This module holds what both stages share; what adopting and rebuilding
mean for each lives in marts.generations and consumer.generations.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.mysql import TABLE_OPTIONS
from core.mysql_dialect import inserted


@dataclass(frozen=True)
class Stage:
    """How a stage names itself in the message that stops it."""

    reader: str  # "the marts": who applied the old topics
    positions: str  # what holds the positions that belong to the old topics
    command: str  # "cdc marts": the command whose --adopt-topics / --rebuild is the way out


def ids_ddl(table: str) -> str:
    """The table recording the id of each source topic a stage applies from."""
    return f"""CREATE TABLE IF NOT EXISTS {table} (
  topic VARCHAR(249) NOT NULL,
  topic_id VARCHAR(64) NOT NULL,
  seen_at DATETIME(6) NOT NULL,
  PRIMARY KEY (topic)
) {TABLE_OPTIONS}"""


def recreated(stored: Mapping[str, str], current: Mapping[str, str], applied: Iterable[str]) -> list[str]:
    """Topics applied from whose id changed (`stored`, `current`: topic -> id)."""
    applied = set(applied)
    return sorted(topic for topic, topic_id in current.items()
                  if topic in applied and stored.get(topic) not in (None, topic_id))


def changed(stored: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Topics whose current id is not the stored one (new topics included)."""
    return sorted(topic for topic, topic_id in current.items() if stored.get(topic) != topic_id)


def explain(stage: Stage, topics: Iterable[str], stored: Mapping[str, str], current: Mapping[str, str]) -> str:
    changes = ", ".join(f"{topic} (id {stored[topic]} -> {current[topic]})" for topic in topics)
    return (f"source topics were recreated since {stage.reader} applied them: {changes}. {stage.positions} "
            f"belong to the old topics, so the new ones cannot be applied safely. If the old topics were "
            f"applied to their end and the connector resumed from its stored position (`cdc local down`/`up` "
            f"does both), run `{stage.command} --adopt-topics`; if the new topics start with a new snapshot, "
            f"run `{stage.command} --rebuild`. Then start `{stage.command}` again.")


def stored_ids(cur: Any, table: str) -> dict[str, str]:
    cur.execute(f"SELECT topic, topic_id FROM {table}")
    return {topic: topic_id for topic, topic_id in cur.fetchall()}


def record_ids(cur: Any, table: str, ids: Mapping[str, str]) -> None:
    for topic, topic_id in sorted(ids.items()):
        cur.execute(f"INSERT INTO {table} (topic, topic_id, seen_at) VALUES (%s, %s, UTC_TIMESTAMP(6))"
                    f" ON DUPLICATE KEY UPDATE topic_id = {inserted('topic_id')}, seen_at = {inserted('seen_at')}",
                    (topic, topic_id))
