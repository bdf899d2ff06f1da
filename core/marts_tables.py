"""How the marts name their MySQL tables, as far as another stage must know it.

The replica and the marts share one MySQL database, so the consumer must never make a replica table under a name
the marts use (consumer.schema pauses such a source table instead). The marts' two tables are named here; every
other table of theirs (state, offsets, topics, truncations, pause) starts with MARTS_PREFIX (marts.schema; a unit
test holds them to it).
"""
from __future__ import annotations

USER_ACTIVITY_TABLE = "user_activity"
SALES_BY_CATEGORY_TABLE = "sales_by_category"
MARTS_PREFIX = "mart_"


def is_marts_table(name: str) -> bool:
    """Whether `name` is, or could be, one of the marts' tables (in any case: MySQL may fold names)."""
    lowered = name.lower()
    return lowered in (USER_ACTIVITY_TABLE, SALES_BY_CATEGORY_TABLE) or lowered.startswith(MARTS_PREFIX)
