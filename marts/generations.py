"""The marts' side of recreated source topics (see core.generations): the ids live in
mart_topics; adopting forgets the old topics' rows in mart_offsets, rebuilding
drops the marts and their state."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from core import generations, watermark
from core.settings import MySqlSettings
from core.topic_names import consumed_topics, schema_changes_topic
from core.watermark import MARTS_STAGE, WATERMARK_DDL
from marts.errors import TopicsRecreated
from marts.schema import OFFSETS, TOPICS, all_tables, connect, ensure_schema

log = logging.getLogger(__name__)


STAGE = generations.Stage(reader="the marts", positions=f"The offsets in {OFFSETS}", command="cdc marts")


def read_topics(topic_prefix: str) -> list[str]:
    """Every topic the marts read and store positions of (marts.assembly): the stages' and the schema changes'."""
    return [*consumed_topics(topic_prefix), schema_changes_topic(topic_prefix)]


def explain(topics: list[str], stored: Mapping[str, str], current: Mapping[str, str]) -> str:
    return generations.explain(STAGE, topics, stored, current)


def check(mysql: MySqlSettings, current: Mapping[str, str]) -> None:
    """Record the ids of topics not seen before; raise TopicsRecreated for a topic applied from that changed."""
    conn = connect(mysql)
    try:
        with conn.cursor() as cur:
            # Not SERIALIZABLE, as marts sessions are: there its scan locks the offsets a batch is writing, waits
            # for them, and can deadlock with it. It reads what is committed, and locks only where that could
            # mislead it: a topic whose stored id is about to be replaced, in case a batch is writing its first
            # offsets from the old topic right now (rare: only after a topic was recreated).
            cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            stored, applied = _stored(cur)
            replaced = [topic for topic in generations.changed(stored, current) if topic in stored]
            applied |= _applied_now(cur, [topic for topic in replaced if topic not in applied])
            changed = generations.recreated(stored, current, applied)
            if changed:
                raise TopicsRecreated(explain(changed, stored, current))
            generations.record_ids(cur, TOPICS, {t: current[t] for t in generations.changed(stored, current)})
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
            changed = generations.changed(stored, current)
            for topic in changed:
                cur.execute(f"DELETE FROM {OFFSETS} WHERE topic = %s", (topic,))
            if changed:  # the new topics' transactions are all applied, whatever their LSN (core.watermark)
                watermark.forget(cur, MARTS_STAGE)
            generations.record_ids(cur, TOPICS, {t: current[t] for t in changed})
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
            cur.execute(WATERMARK_DDL)
            watermark.forget(cur, MARTS_STAGE)
        conn.commit()
    finally:
        conn.close()
    ensure_schema(mysql)
    log.warning("marts dropped: they are rebuilt from the topics' start")


def _applied_now(cur: object, topics: list[str]) -> set[str]:
    """Those of `topics` applied from, waiting for a batch that is writing their offsets (a locking read)."""
    found = set()
    for topic in topics:
        cur.execute(f"SELECT 1 FROM {OFFSETS} WHERE topic = %s LIMIT 1 LOCK IN SHARE MODE", (topic,))  # type: ignore[attr-defined]
        if cur.fetchone() is not None:  # type: ignore[attr-defined]
            found.add(topic)
    return found


def _stored(cur: object) -> tuple[dict[str, str], set[str]]:
    stored = generations.stored_ids(cur, TOPICS)
    cur.execute(f"SELECT DISTINCT topic FROM {OFFSETS}")  # type: ignore[attr-defined]
    return stored, {topic for (topic,) in cur.fetchall()}  # type: ignore[attr-defined]
