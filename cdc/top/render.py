"""A Report drawn with rich: one table per part of the pipeline, unhealthy values coloured, then the verdict."""
from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cdc.top.health import Level, Reading, Report, format_bytes

STYLES = {Level.OK: "", Level.WARN: "yellow", Level.FAIL: "bold red"}
STATE_STYLES = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}
NOT_KNOWN = "n/a"


def _cell(reading: Reading, show: Callable[[float], str]) -> Text:
    text = NOT_KNOWN if reading.value is None or reading.value != reading.value else show(reading.value)  # NaN
    return Text(text, style=STYLES[reading.level])


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _count(value: float) -> str:
    return f"{value:.0f}"


def _rate(value: float) -> str:
    return f"{value:.1f}/s"


def _yes_no(value: float) -> str:
    return "yes" if value else "no"


def _stages(report: Report, style: box.Box) -> Table:
    table = Table(title="Stages", title_justify="left", box=style)
    for column in ("stage", "applied", "lag (messages)", "lag (s)", "dead letters", "new dead letters",
                   "write retries", "paused"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for row in report.stages:
        table.add_row(
            Text(row.stage, style="" if row.up else STYLES[Level.FAIL]),
            _cell(row.rate, _rate), _cell(row.lag_messages, _count), _cell(row.lag_seconds, _seconds),
            _cell(row.dead_letters, _count), _cell(row.new_dead_letters, _count), _cell(row.write_retries, _count),
            _cell(row.paused, _yes_no),
        )
    return table


def _marts(report: Report, style: box.Box) -> Table:
    table = Table(title="Mart freshness", title_justify="left", box=style)
    table.add_column("mart")
    table.add_column("behind the source", justify="right")
    for row in report.marts:
        table.add_row(row.mart, _cell(row.freshness, _seconds))
    return table


def _connectors(report: Report, style: box.Box) -> Table:
    table = Table(title="Connector", title_justify="left", box=style)
    for column in ("connector", "task", "state"):
        table.add_column(column)
    for row in report.connectors:
        table.add_row(row.connector, row.task or "-", Text(row.state, style=STATE_STYLES[row.level]))
    return table


def _slots(report: Report, style: box.Box) -> Table:
    table = Table(title="Replication slots", title_justify="left", box=style)
    table.add_column("slot")
    table.add_column("retained WAL", justify="right")
    table.add_column("streaming")
    for row in report.slots:
        table.add_row(row.slot, _cell(row.retained_wal_bytes, format_bytes), _cell(row.active, _yes_no))
    return table


def _endpoints(report: Report, style: box.Box) -> Table:
    table = Table(title="Metrics endpoints", title_justify="left", box=style)
    for column in ("endpoint", "url", "status"):
        table.add_column(column)
    for row in report.endpoints:
        status = Text(f"DOWN: {row.error}", style=STYLES[Level.FAIL]) if row.error else Text("up", style="green")
        table.add_row(row.endpoint, row.url, status)
    return table


def verdict(report: Report) -> Text:
    if report.healthy:
        return Text("healthy", style="bold green")
    count = len(report.problems)
    return Text(f"FAILING: {count} problem{'s' if count > 1 else ''}", style="bold red")


def findings(report: Report) -> list[Text]:
    """One line per problem (red) and per note (yellow)."""
    return ([Text(f"problem: {problem}", style=STYLES[Level.FAIL]) for problem in report.problems]
            + [Text(f"note: {note}", style=STYLES[Level.WARN]) for note in report.notes])


def render(report: Report, heading: str, *, live: bool = False) -> RenderableType:
    """The tables, then the findings and the verdict as the last line (for a script reading `--once`); live, the
    verdict and findings first and lighter tables, so a short terminal still shows what fails."""
    style = box.SIMPLE_HEAD if live else box.HEAVY_HEAD
    tables = [table(report, style) for table in (_stages, _marts, _connectors, _slots, _endpoints)]
    if live:
        return Group(Text(heading, style="bold"), verdict(report), *findings(report), *tables)
    return Group(Text(heading, style="bold"), *tables, *findings(report), verdict(report))
