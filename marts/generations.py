"""Which generation of each source topic the marts' stored offsets refer to.

Offsets only mean something within one life of a topic. A topic deleted and
created again (a wiped broker, the local stack's in-memory broker after a
restart) starts again at offset 0, and every event at or below the offsets
stored in mart_offsets would be skipped as "applied before": the marts would
stay stale for good, silently. So the worker records each topic's id (the
broker gives a recreated topic a new one), checks it at start and while it
runs, and stops loudly when a topic it applied from was recreated. The way
out depends on what the new topic holds, which only the operator (or
`cdc local`, which knows) can tell:

- adopt: the old topic was applied to its end and the new one continues
  where it stopped (the connector resumed from its stored source position):
  forget the old offsets, keep the marts;
- rebuild: the new topic starts with a fresh snapshot of the source: drop
  the marts and their state, and apply the new topics from their start.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from cdc.errors import MartsError
from cdc.settings import MySqlSettings
from marts.schema import OFFSETS, TOPICS, all_tables
from marts.store import connect, ensure_schema

log = logging.getLogger(__name__)


class TopicsRecreated(MartsError):
    """A source topic has a new id since the marts applied from it."""


def recreated(stored: Mapping[str, str], current: Mapping[str, str], applied: set[str]) -> list[str]:
    """Topics the marts applied from whose id changed (`stored`, `current`: topic -> id)."""
    return sorted(topic for topic, topic_id in current.items()
                  if topic in applied and stored.get(topic) not in (None, topic_id))


def explain(topics: list[str], stored: Mapping[str, str], current: Mapping[str, str]) -> str:
    changes = ", ".join(f"{topic} (id {stored[topic]} -> {current[topic]})" for topic in topics)
    return (f"source topics were recreated since the marts applied them: {changes}. The offsets in "
            f"{OFFSETS} belong to the old topics, so the new ones cannot be applied safely. If the old "
            f"topics were applied to their end and the connector resumed from its stored position "
            f"(`cdc local down`/`up` does both), run `cdc marts --adopt-topics`; if the new topics "
            f"start with a new snapshot, run `cdc marts --rebuild`. Then start `cdc marts` again.")


def check(mysql: MySqlSettings, current: Mapping[str, str]) -> None:
    """Record the ids of topics not seen before; raise TopicsRecreated for a topic applied from that changed."""
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            stored, applied = _stored(cur)
            changed = recreated(stored, current, applied)
            if changed:
                raise TopicsRecreated(explain(changed, stored, current))
            _record(cur, {t: i for t, i in current.items() if stored.get(t) != i})
        conn.commit()
    finally:
        conn.close()


def adopt(mysql: MySqlSettings, current: Mapping[str, str]) -> list[str]:
    """Forget the offsets of recreated topics (the marts stay); return those topics."""
    ensure_schema(mysql)
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            stored, _ = _stored(cur)
            changed = sorted(t for t, i in current.items() if stored.get(t) != i)
            for topic in changed:
                cur.execute(f"DELETE FROM {OFFSETS} WHERE topic = %s", (topic,))
            _record(cur, {t: current[t] for t in changed})
        conn.commit()
    finally:
        conn.close()
    log.info("marts adopted new topics: %s", ", ".join(changed) or "none changed")
    return changed


def rebuild(mysql: MySqlSettings) -> None:
    """Drop the marts, their state, offsets and topic ids, and create them empty."""
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            for table in all_tables():
                cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.commit()
    finally:
        conn.close()
    ensure_schema(mysql)
    log.warning("marts dropped: they are rebuilt from the topics' start")


def _stored(cur: object) -> tuple[dict[str, str], set[str]]:
    cur.execute(f"SELECT topic, topic_id FROM {TOPICS}")  # type: ignore[attr-defined]
    stored = {topic: topic_id for topic, topic_id in cur.fetchall()}  # type: ignore[attr-defined]
    cur.execute(f"SELECT DISTINCT topic FROM {OFFSETS}")  # type: ignore[attr-defined]
    return stored, {topic for (topic,) in cur.fetchall()}  # type: ignore[attr-defined]


def _record(cur: object, ids: Mapping[str, str]) -> None:
    for topic, topic_id in sorted(ids.items()):
        cur.execute(f"INSERT INTO {TOPICS} (topic, topic_id, seen_at) VALUES (%s, %s, UTC_TIMESTAMP(6))"  # type: ignore[attr-defined]
                    " ON DUPLICATE KEY UPDATE topic_id = VALUES(topic_id), seen_at = VALUES(seen_at)",
                    (topic, topic_id))
