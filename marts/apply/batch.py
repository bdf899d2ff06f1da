"""One batch applied inside the caller's transaction: state, mart deltas and offsets together.

The events not applied yet (marts.apply.offsets) are applied in order:
their state rows read up front (marts.apply.batch_state), each row change
applied unless its table was truncated after it (marts.apply.row_change,
marts.apply.truncations), then the state written, the marts' deltas
upserted (marts.apply.mart_writes) and the offsets stored, with the
marts' pause when the batch ends before a source schema change they cannot
follow (marts.pause).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import watermark
from core.truncation import survives
from core.watermark import MARTS_STAGE, SourcePoint
from marts import pause as marts_pause
from marts.apply import offsets
from marts.apply.batch_state import BatchState
from marts.apply.mart_writes import MartWrites
from marts.apply.row_change import apply_change
from marts.apply.truncations import load_watermarks, truncate
from marts.events import Event, RowChange, Truncate
from marts.state_tables import STATE_TABLES


@dataclass(frozen=True)
class SourceMark:
    """What a batch of whole source transactions completes (core.transactions, core.watermark)."""

    positions: dict[offsets.Where, int]  # per partition, the last offset complete
    point: SourcePoint | None  # the last source transaction in the batch
    pause: marts_pause.Pause | None = None  # the marts pause after this batch (marts.assembly)


def apply_batch(cur: Any, events: Sequence[Event], mark: SourceMark | None = None) -> tuple[int, int]:
    """Apply the events not applied yet, in order; (applied, skipped as applied before)."""
    todo, newest = offsets.not_applied(events, offsets.load(cur, {offsets.where(e) for e in events}))
    state = BatchState(cur)
    watermarks = load_watermarks(cur)
    marts = MartWrites()
    state.prefetch([e.change for e in todo if isinstance(e.change, RowChange)])
    for event in todo:
        if isinstance(event.change, RowChange):
            if event.lsn is None or survives(event.lsn, watermarks.get(event.change.table)):
                apply_change(state, event.change, marts, event.lsn)
        elif isinstance(event.change, Truncate):
            truncate(state, STATE_TABLES[event.change.table], event.lsn, watermarks, marts)
    state.flush()
    marts.write(cur)
    offsets.save(cur, newest.values())
    if mark is not None:
        offsets.save_positions(cur, mark.positions)
        if mark.point is not None:
            watermark.write(cur, MARTS_STAGE, mark.point)
        if mark.pause is not None:
            marts_pause.write(cur, mark.pause)
    return len(todo), len(events) - len(todo)
