"""Pick a random row without scanning the table.

A random point in the table's key range, then the first row at or after it
that matches (an index range scan, not ``ORDER BY random()``). Gaps left by
deletes make rows after them a little likelier; that is fine for a load
generator. If nothing matches after the point, the first match from the
start is taken.
"""
from __future__ import annotations

import random
from typing import Any

from generator.tables import Table


def sample_row(
    cur: Any,
    rng: random.Random,
    table: Table,
    columns: str,
    where: str = "TRUE",
    params: tuple[object, ...] = (),
    *,
    lock: bool = False,
) -> tuple[Any, ...] | None:
    """One row of table (aliased t) matching where, or None if none does; lock: FOR UPDATE."""
    key = table.key
    query = (
        f"SELECT {columns} FROM {table.name} AS t"
        f" WHERE t.{key} >= (SELECT MIN({key}) + FLOOR(%s * (MAX({key}) - MIN({key}) + 1))::bigint"
        f" FROM {table.name}) AND ({where})"
        f" ORDER BY t.{key} LIMIT 1{' FOR UPDATE OF t' if lock else ''}"
    )
    for point in (rng.random(), 0.0):
        cur.execute(query, (point, *params))
        row = cur.fetchone()
        if row is not None:
            return tuple(row)
    return None
