"""`cdc generate seed --json` and `cdc generate live --json`: one JSON object with the summary's figures."""
from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from click.testing import CliRunner

from generator import cli, live, seed
from generator.dataset import FirstIds, SeedPlan
from generator.live import LiveConfig, LiveSummary
from generator.seed import SeedSummary
from generator.transactions import Kind

ENV = {"PG_DSN": "postgresql://bench@localhost:1/nothing"}
SEED = SeedSummary(rows={"users": 10, "orders": 30}, seconds=2.0, first_ids=FirstIds())
LIVE = LiveSummary(seed=7, requested_rate=100.0, elapsed_seconds=4.0,
                   counts={kind: (40 if kind is Kind.NEW_ORDER else 0) for kind in Kind}, failed=2, max_lag_seconds=0.25)


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "apply_migrations", lambda settings: None)


def test_seed_json_gives_the_rows_per_table_and_their_total(monkeypatch: pytest.MonkeyPatch) -> None:
    def seed_database(settings: Any, plan: SeedPlan, *, append: bool = False, progress: Any = None) -> SeedSummary:
        assert append
        return SEED

    monkeypatch.setattr(seed, "seed_database", seed_database)
    result = CliRunner().invoke(cli.generate, ["seed", "--append", "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"seeded": True, "rows": {"users": 10, "orders": 30}, "total_rows": 40,
                                         "seconds": 2.0, "rows_per_second": 20.0}


def test_seed_json_if_empty_on_a_database_holding_data_says_it_did_not_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seed, "occupied_tables", lambda settings: ["users"])
    result = CliRunner().invoke(cli.generate, ["seed", "--if-empty", "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"seeded": False, "occupied_tables": ["users"]}


def test_live_json_gives_the_achieved_rate_and_the_count_of_each_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    def run_live(settings: Any, config: LiveConfig, stop: threading.Event | None = None) -> LiveSummary:
        assert (config.rate, config.duration, config.seed, config.workers) == (100.0, 4.0, 7, 1)
        return LIVE

    monkeypatch.setattr(live, "run_live", run_live)
    result = CliRunner().invoke(cli.generate, ["live", "--rate", "100", "--duration", "4", "--seed", "7", "--json"],
                                env=ENV)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["counts"]["new_order"] == 40 and set(report["counts"]) == {str(kind) for kind in Kind}
    assert {key: report[key] for key in ("seed", "requested_rate", "achieved_rate", "elapsed_seconds",
                                         "transactions", "failed", "max_lag_seconds", "fell_behind")} == {
        "seed": 7, "requested_rate": 100.0, "achieved_rate": 10.0, "elapsed_seconds": 4.0,
        "transactions": 40, "failed": 2, "max_lag_seconds": 0.25, "fell_behind": True}


def test_without_json_the_reports_stay_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "run_live", lambda settings, config, stop=None: LIVE)
    result = CliRunner().invoke(cli.generate, ["live", "--rate", "100", "--duration", "4"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "achieved 10.0 transactions/s (requested 100/s) over 4.0 s, seed 7" in result.stdout
