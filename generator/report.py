"""Reports of a seed and of a live run for stdout: plain text, or JSON for programs (`--json`)."""
from __future__ import annotations

import json
from collections.abc import Sequence

from generator.live import LiveSummary
from generator.seed import SeedSummary


def two_columns(header: tuple[str, str], rows: Sequence[tuple[str, int]]) -> str:
    """A left-aligned name column and a right-aligned count column."""
    width = max(len(name) for name, _ in (*rows, (header[0], 0)))
    digits = max(len(header[1]), *(len(f"{count:,}") for _, count in rows))
    lines = [f"{header[0]:<{width}}  {header[1]:>{digits}}"]
    lines += [f"{name:<{width}}  {count:>{digits},}" for name, count in rows]
    return "\n".join(lines)


def seed_report(summary: SeedSummary) -> str:
    rows = [*summary.rows.items(), ("total", summary.total_rows)]
    return "\n".join([
        two_columns(("table", "rows"), rows),
        f"loaded in {summary.seconds:.1f} s ({summary.rows_per_second:,.0f} rows/s)",
    ])


def live_report(summary: LiveSummary) -> str:
    rows = [(str(kind), count) for kind, count in summary.counts.items()]
    rows += [("total", summary.transactions), ("rolled back (contention)", summary.failed)]
    lines = [
        two_columns(("transaction", "count"), rows),
        f"achieved {summary.achieved_rate:.1f} transactions/s (requested {summary.requested_rate:g}/s)"
        f" over {summary.elapsed_seconds:.1f} s, seed {summary.seed}",
    ]
    if summary.fell_behind:
        lines.append(
            f"fell behind: achieved {summary.achieved_rate / summary.requested_rate:.0%} of the requested rate;"
            f" transactions started up to {summary.max_lag_seconds:.2f} s after they were due"
        )
    return "\n".join(lines)


def seed_json(summary: SeedSummary) -> str:
    return json.dumps({
        "seeded": True,
        "rows": dict(summary.rows),
        "total_rows": summary.total_rows,
        "seconds": summary.seconds,
        "rows_per_second": summary.rows_per_second,
    })


def not_seeded_json(occupied: Sequence[str]) -> str:
    """`seed --if-empty` on a database that holds data."""
    return json.dumps({"seeded": False, "occupied_tables": list(occupied)})


def live_json(summary: LiveSummary) -> str:
    return json.dumps({
        "seed": summary.seed,
        "requested_rate": summary.requested_rate,
        "achieved_rate": summary.achieved_rate,
        "elapsed_seconds": summary.elapsed_seconds,
        "transactions": summary.transactions,
        "counts": {str(kind): count for kind, count in summary.counts.items()},
        "failed": summary.failed,
        "max_lag_seconds": summary.max_lag_seconds,
        "fell_behind": summary.fell_behind,
    })
