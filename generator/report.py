"""Plain-text reports of a seed and of a live run, for stdout."""
from __future__ import annotations

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
