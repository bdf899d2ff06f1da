"""Debezium-shaped change events made by hand, for topics a test fills itself."""
from __future__ import annotations

import itertools
import json
import time
from typing import Any

_next_lsn = itertools.count(time.time_ns() // 1000)  # increasing across a test session, like the WAL


def envelope(table: str, op: str, before: Any, after: Any, lsn: int | None = None) -> bytes:
    """A Debezium-shaped value; `lsn` (source.lsn) defaults to the next of an increasing counter."""
    source = {"table": table, "lsn": next(_next_lsn) if lsn is None else lsn}
    return json.dumps({"op": op, "before": before, "after": after, "source": source,
                       "ts_ms": int(time.time() * 1000)}).encode()
