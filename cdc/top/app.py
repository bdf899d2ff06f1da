"""`cdc top`: the live view (redrawn every interval) and one snapshot (`--once`)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Console
from rich.live import Live

from cdc.top.health import Report, assess
from cdc.top.render import render
from cdc.top.scrape import Snapshot, take
from cdc.top.settings import Limits, TopSettings


def _heading(interval: float, live: bool) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    window = f"rates over {interval:g} s"
    return f"cdc top  {now}  {window}" + ("  (Ctrl-C to quit)" if live else "")


def once(settings: TopSettings, limits: Limits, interval: float, console: Console) -> Report:
    """Two scrapes `interval` apart (rates and new dead letters need two), printed once."""
    before = take(settings.urls)
    time.sleep(interval)
    report = assess(before, take(settings.urls), limits)
    console.print(render(report, _heading(interval, live=False)))
    return report


def live(settings: TopSettings, limits: Limits, interval: float, console: Console) -> None:
    """Redraw every `interval` seconds until Ctrl-C (the way to quit, so not an error)."""
    before: Snapshot | None = None
    try:
        with Live(console=console, auto_refresh=False, screen=False) as view:
            while True:
                after = take(settings.urls)
                report = assess(before, after, limits)
                view.update(render(report, _heading(interval, live=True), live=True), refresh=True)
                before = after
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
