"""One row change applied to the state, its marts' deltas gathered for the end of the batch.

Take the old state row; if nothing the marts use changed, stop (but keep
the change's position); if only labels (names) changed, update the state
row and relabel the mart rows at the end of the batch; otherwise compute
the contributions of the groups the row takes part in (marts.apply.row_deltas),
apply the state change, compute them again, and buffer the difference.
"""
from __future__ import annotations

from typing import Any

from marts.apply.batch_state import BatchState
from marts.apply.groups import diff
from marts.apply.mart_writes import MartWrites
from marts.apply.row_deltas import PYTHON_SCOPES, sql_groups
from marts.events import RowChange
from marts.state_tables import STATE_TABLES, Row, StateTable


def apply_change(state: BatchState, change: RowChange, marts: MartWrites, lsn: int | None = None) -> None:
    """Apply one row change made at source position `lsn` (None: unknown, older than any truncate)."""
    table = STATE_TABLES[change.table]
    old = state.get(table, change.key)
    new = None if change.after is None else table.row(change.after)
    if old == new:
        if new is not None and lsn is not None:
            state.put(table, change.key, new, lsn)  # no delta, but a truncate before `lsn` must keep the row
        return
    if old is not None and new is not None and table.label_only(old, new):
        state.put(table, change.key, new, lsn)
        marts.relabel(table.source, change.key)
        return
    sql_scopes = []
    for mart, scope in table.scopes:
        compute = PYTHON_SCOPES.get((table.source, mart))
        deltas = compute(state, old, new) if compute is not None else None
        if deltas is None:
            sql_scopes.append((mart, scope))
        else:
            marts.deltas.add(mart, deltas)
    if not sql_scopes:
        state.put(table, change.key, new, lsn)
        return
    _apply_with_sql(state, table, change.key, (old, new), lsn, sql_scopes, marts)


def _apply_with_sql(state: BatchState, table: StateTable[Any], key: Any, rows: tuple[Row | None, Row | None],
                    lsn: int | None, scopes: list[tuple[str, str]], marts: MartWrites) -> None:
    """The change's contributions to `scopes`' marts queried before and after it, on the flushed state.

    Every scoped contribution query joins the changed row itself, so a row
    that does not exist contributes nothing: no query needed then.
    """
    old, new = rows
    state.flush()
    before = {mart: sql_groups(state.cur, mart, scope, key) if old is not None else {} for mart, scope in scopes}
    state.put(table, key, new, lsn)
    state.flush()
    for mart, scope in scopes:
        after = sql_groups(state.cur, mart, scope, key) if new is not None else {}
        marts.deltas.add(mart, diff(before[mart], after))
