"""The drawn report: what a terminal (or a script reading `cdc top --once`) sees."""
from __future__ import annotations

from rich.console import Console

from cdc.top.health import ConnectorRow, EndpointRow, Level, MartRow, Reading, Report, SlotRow, StageRow
from cdc.top.render import render


def drawn(report: Report) -> list[str]:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(report, "heading"))
    return [line.rstrip() for line in console.export_text().splitlines()]


UNKNOWN = (Reading(None),) * 7  # a StageRow's seven readings, none known


def report(problems: tuple[str, ...] = (), notes: tuple[str, ...] = ()) -> Report:
    ok = Reading(0.0)
    return Report(
        endpoints=(EndpointRow("consumer", "http://127.0.0.1:9108/metrics", ""),
                   EndpointRow("marts", "http://127.0.0.1:9109/metrics", "Connection refused")),
        stages=(StageRow("replica", True, Reading(52.25), Reading(7.0), Reading(1.5), ok, ok, ok, ok),
                StageRow("marts", False, *UNKNOWN)),
        marts=(MartRow("user_activity", Reading(75.0, Level.FAIL)),),
        connectors=(ConnectorRow("shop-postgres", "", "RUNNING", Level.OK),
                    ConnectorRow("shop-postgres", "0", "FAILED", Level.FAIL)),
        slots=(SlotRow("cdc_shop", Reading(3 * 1024**2), Reading(1.0)),),
        problems=problems, notes=notes,
    )


def line_with(lines: list[str], *words: str) -> str:
    return next(line for line in lines if all(word in line.split() for word in words))


def test_a_stage_row_shows_rate_lag_in_messages_and_seconds() -> None:
    cells = [cell.strip() for cell in line_with(drawn(report()), "replica").split("│")[1:5]]

    assert cells == ["replica", "52.2/s", "7", "1.5 s"]


def test_unknown_values_show_as_na() -> None:
    assert line_with(drawn(report()), "marts").split("│")[2].strip() == "n/a"


def test_each_connector_and_task_state_is_on_its_own_line() -> None:
    lines = drawn(report())

    assert line_with(lines, "shop-postgres", "-").split("│")[3].strip() == "RUNNING"
    assert line_with(lines, "shop-postgres", "0").split("│")[3].strip() == "FAILED"


def test_slot_wal_is_shown_in_binary_units() -> None:
    assert "3.0 MiB" in line_with(drawn(report()), "cdc_shop")


def test_a_down_endpoint_shows_why() -> None:
    assert "DOWN: Connection refused" in line_with(drawn(report()), "http://127.0.0.1:9109/metrics")


def test_problems_and_notes_are_listed_then_the_verdict() -> None:
    lines = drawn(report(problems=("connector x is FAILED", "replica lag 90 s is above 60 s"), notes=("a note",)))

    assert lines[-4:] == ["problem: connector x is FAILED", "problem: replica lag 90 s is above 60 s",
                          "note: a note", "FAILING: 2 problems"]


def test_a_healthy_report_ends_with_healthy() -> None:
    assert drawn(report())[-1] == "healthy"


def test_unhealthy_values_are_red() -> None:
    console = Console(record=True, width=160, color_system="standard", force_terminal=True)
    console.print(render(report(), "heading"))

    assert "\x1b[1;31mFAILED" in console.export_text(styles=True)


def test_live_the_verdict_and_problems_come_first() -> None:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(report(problems=("connector x is FAILED",)), "heading", live=True))

    assert console.export_text().splitlines()[:3] == ["heading", "FAILING: 1 problem", "problem: connector x is FAILED"]
