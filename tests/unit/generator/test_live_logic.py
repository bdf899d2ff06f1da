"""The live stream's pure parts: the mix of transaction kinds, its fallback, the summary and its report."""
from __future__ import annotations

from collections import Counter
from types import MappingProxyType
from typing import Any

import pytest

from generator import transactions
from generator.dataset import FirstIds
from generator.errors import GeneratorError
from generator.live import LiveConfig, LiveSummary
from generator.model import Randomness
from generator.report import live_report, seed_report, two_columns
from generator.seed import SeedSummary
from generator.transactions import Kind, Tx


def summary(counts: dict[Kind, int], elapsed: float = 10.0, rate: float = 5.0, lag: float = 0.0) -> LiveSummary:
    full = {kind: counts.get(kind, 0) for kind in Kind}
    return LiveSummary(seed=3, requested_rate=rate, elapsed_seconds=elapsed, counts=MappingProxyType(full),
                       failed=0, max_lag_seconds=lag)


def test_every_kind_has_a_weight_and_a_function_and_the_weights_add_up_to_100() -> None:
    assert set(transactions.WEIGHTS) == set(Kind) == set(transactions.RUNNERS)
    assert sum(transactions.WEIGHTS.values()) == 100


def test_new_orders_are_drawn_most_often() -> None:
    rand = Randomness.stream(1, "live")
    drawn = Counter(transactions.draw_kind(rand) for _ in range(10_000))
    assert drawn.most_common(1)[0][0] is Kind.NEW_ORDER
    assert set(drawn) == set(Kind)


def test_the_same_seed_draws_the_same_kinds() -> None:
    def draws(seed: int) -> list[Kind]:
        rand = Randomness.stream(seed, "live")
        return [transactions.draw_kind(rand) for _ in range(100)]

    assert draws(5) == draws(5)
    assert draws(5) != draws(6)


def test_a_kind_that_finds_no_row_falls_back_to_a_new_order(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []

    def runner(name: str, applies: bool) -> Any:
        def run(tx: Tx) -> bool:
            ran.append(name)
            return applies

        return run

    runners = {kind: runner(kind, True) for kind in Kind}
    runners[Kind.CANCEL_ORDER] = runner(Kind.CANCEL_ORDER, False)
    monkeypatch.setattr(transactions, "RUNNERS", runners)
    tx = Tx(cur=None, rand=Randomness.stream(1, "live"), now=None)  # type: ignore[arg-type]
    assert transactions.apply(Kind.CANCEL_ORDER, tx) is Kind.NEW_ORDER
    assert ran == ["cancel_order", "new_order"]


def test_status_moves_forward_from_pending_to_completed() -> None:
    assert dict(transactions.NEXT_STATUS) == {"pending": "paid", "paid": "shipped", "shipped": "completed"}


def test_the_achieved_rate_is_transactions_over_elapsed_seconds() -> None:
    result = summary({Kind.NEW_ORDER: 30, Kind.NEW_USER: 19}, elapsed=10.0, rate=5.0)
    assert result.transactions == 49
    assert result.achieved_rate == 4.9
    assert not result.fell_behind


def test_a_run_fell_behind_below_95_percent_of_the_rate_or_when_a_transaction_started_over_a_second_late() -> None:
    assert summary({Kind.NEW_ORDER: 47}, elapsed=10.0, rate=5.0).fell_behind
    assert summary({Kind.NEW_ORDER: 50}, elapsed=10.0, rate=5.0, lag=1.5).fell_behind


def test_the_live_report_lists_every_kind_the_total_and_the_achieved_rate() -> None:
    text = live_report(summary({Kind.NEW_ORDER: 30, Kind.NEW_USER: 20}))
    lines = text.splitlines()
    assert lines[0].split() == ["transaction", "count"]
    assert lines[1].split() == ["new_order", "30"]
    assert ["total", "50"] in [line.split() for line in lines]
    assert lines[-1] == "achieved 5.0 transactions/s (requested 5/s) over 10.0 s, seed 3"
    assert "fell behind" not in text


def test_the_live_report_says_when_the_run_fell_behind() -> None:
    text = live_report(summary({Kind.NEW_ORDER: 25}, lag=2.0))
    assert text.splitlines()[-1] == (
        "fell behind: achieved 50% of the requested rate; transactions started up to 2.00 s after they were due"
    )


def test_the_seed_report_lists_rows_per_table_and_the_speed() -> None:
    result = SeedSummary(rows=MappingProxyType({"users": 1000, "orders": 3000}), seconds=2.0, first_ids=FirstIds())
    assert seed_report(result).splitlines() == [
        "table    rows",
        "users   1,000",
        "orders  3,000",
        "total   4,000",
        "loaded in 2.0 s (2,000 rows/s)",
    ]


def test_two_columns_aligns_names_left_and_counts_right() -> None:
    assert two_columns(("name", "n"), [("a", 5), ("long name", 12345)]) == (
        "name            n\n"
        "a               5\n"
        "long name  12,345"
    )


@pytest.mark.parametrize(("rate", "duration"), [(0, None), (-1, None), (5, 0)])
def test_a_live_config_needs_a_positive_rate_and_duration(rate: float, duration: float | None) -> None:
    with pytest.raises(GeneratorError):
        LiveConfig(rate=rate, duration=duration)


def test_a_live_config_needs_at_least_one_worker() -> None:
    with pytest.raises(GeneratorError, match="--workers"):
        LiveConfig(rate=5, workers=0)
