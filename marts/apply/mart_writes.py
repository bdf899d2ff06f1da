"""A batch's writes to the mart tables: its merged deltas upserted, emptied groups deleted, and the
mart rows of relabelled users and categories renamed from the state."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.mysql_dialect import inserted
from marts.apply.groups import DeltaBuffer
from marts.apply.multirow import chunks, execute_rows, placeholders
from marts.definitions import MARTS, MartSpec
from marts.state_tables import CATEGORIES, USERS

# A label-only change of these tables relabels the mart rows from the state.
RELABEL = {
    USERS.source: (f"UPDATE user_activity m JOIN {USERS.name} s ON s.user_id = m.user_id"
                   " SET m.first_name = s.first_name, m.last_name = s.last_name,"
                   " m.updated_at = UTC_TIMESTAMP(6) WHERE m.user_id = %s"),
    CATEGORIES.source: (f"UPDATE sales_by_category m JOIN {CATEGORIES.name} s"
                        " ON s.category_id = m.category_id SET m.name = s.name, m.updated_at = UTC_TIMESTAMP(6)"
                        " WHERE m.category_id = %s"),
}


@dataclass
class MartWrites:
    """What a batch will write to the marts, gathered while its changes are applied to the state."""

    deltas: DeltaBuffer = field(default_factory=DeltaBuffer)
    relabels: set[tuple[str, Any]] = field(default_factory=set)  # (source table, key)

    def relabel(self, source: str, key: Any) -> None:
        self.relabels.add((source, key))

    def write(self, cur: Any) -> None:
        """After the state is flushed: relabels read the names from it."""
        for spec in MARTS:
            upsert_deltas(cur, spec, self.deltas)
        for source, key in sorted(self.relabels):
            cur.execute(RELABEL[source], (key,))


def upsert_deltas(cur: Any, spec: MartSpec, buffer: DeltaBuffer) -> None:
    """Add the deltas to the mart rows (``col = col + VALUES(col)``, core.mysql_dialect) and
    delete the groups whose count reached zero."""
    deltas = sorted(buffer.deltas(spec.name), key=lambda delta: delta.key)  # one lock order for every worker
    if not deltas:
        return
    columns = spec.columns
    updates = [f"{name} = {inserted(name)}" for name in spec.labels]
    updates += [f"{name} = {name} + {inserted(name)}" for name in spec.measures]
    execute_rows(
        cur, f"INSERT INTO {spec.name} ({', '.join(columns)}, updated_at) VALUES",
        f"({placeholders(len(columns))}, UTC_TIMESTAMP(6))",
        f" ON DUPLICATE KEY UPDATE {', '.join(updates)}, updated_at = {inserted('updated_at')}",
        [delta.key + delta.labels + delta.measures for delta in deltas],
    )
    count = spec.measures.index(spec.count)
    empty = [delta.key for delta in deltas if delta.measures[count] <= 0]
    for chunk in chunks(empty):
        # OR of key equalities, not a row-constructor IN: MariaDB scans the whole table for the latter.
        match = " OR ".join(["(" + " AND ".join(f"{name} = %s" for name in spec.keys) + ")"] * len(chunk))
        cur.execute(f"DELETE FROM {spec.name} WHERE ({match}) AND {spec.count} <= 0",
                    [value for key in chunk for value in key])
