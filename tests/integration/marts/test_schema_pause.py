"""Source schema changes and the marts (marts.source_fit, marts.pause), on a stack of its own.

A change the marts do not read leaves them exact under live load; a change of a column they read pauses them
where the source was just before the DDL's transaction: nothing of that transaction or after it is applied,
nothing is dead-lettered, the pause is logged, exported, reported by `cdc health marts` and kept in MySQL, so
a restarted worker stays paused. The tests share the stack and run in order.
"""
from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.mysql import fetch_all
from core.settings import MySqlSettings
from marts.definitions import MARTS
from tests.support.cli import finish_live_load, run_cdc, start_live_load
from tests.support.marts import converged
from tests.support.pipeline import assert_exact, env_of, own_pipeline, seed, source

pytestmark = pytest.mark.integration

PAUSED_LINE = "marts paused at source schema change"
PAUSED_METRIC = 'cdc_marts_paused 1.0'


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Path]:
    with own_pipeline("cdc-marts-schema-") as folder:
        seed(env_of(folder), "--users", "200", "--categories", "8", "--products", "60", "--orders", "2000",
             "--seed", "21")
        yield folder


def marts_rows(folder: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Both marts' rows (without updated_at), in key order."""
    mysql = MySqlSettings.from_env(env_of(folder))
    return {mart.name: [tuple(row) for row in fetch_all(
        mysql, f"SELECT {', '.join(mart.columns)} FROM {mart.name} ORDER BY {', '.join(mart.keys)}")]
        for mart in MARTS}


def marts_watermark(folder: Path) -> tuple[Any, ...]:
    rows = fetch_all(MySqlSettings.from_env(env_of(folder)),
                     "SELECT source_lsn, source_txid FROM cdc_watermark WHERE stage = 'marts'")
    return tuple(rows[0]) if rows else ()


def metrics(folder: Path) -> str:
    with urllib.request.urlopen(env_of(folder)["MARTS_METRICS_URL"], timeout=10) as response:
        return str(response.read().decode())


def marts_log(folder: Path) -> str:
    return (folder / "logs" / "marts.log").read_text(errors="replace")


def wait_for_log(folder: Path, text: str, count: int = 1, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while marts_log(folder).count(text) < count:
        assert time.monotonic() < deadline, f"{text!r} not {count} times in the marts' log:\n{marts_log(folder)[-3000:]}"
        time.sleep(0.5)


def test_an_added_column_and_changes_of_columns_the_marts_do_not_read_leave_them_exact(pipeline: Path) -> None:
    generator = start_live_load(env_of(pipeline), seed=201, duration=12, rate=40)
    time.sleep(3)
    source(pipeline, "ALTER TABLE products ADD COLUMN x text")
    source(pipeline, "ALTER TABLE order_details ALTER COLUMN price_per_unit TYPE numeric(16,2)")
    time.sleep(2)
    source(pipeline, "ALTER TABLE order_details ALTER COLUMN quantity TYPE bigint")  # a widening they follow
    finish_live_load(generator)
    assert_exact(env_of(pipeline))
    assert PAUSED_LINE not in marts_log(pipeline)
    assert 'cdc_marts_paused 0.0' in metrics(pipeline)
    assert 'cdc_dead_letters_total{stage="marts"} 0.0' in metrics(pipeline)


# Filled by the next test: the marts as of the source just before the change that paused them.
BEFORE: dict[str, Any] = {}


def test_a_type_change_of_a_column_the_marts_read_pauses_them_as_of_the_source_before_it(pipeline: Path) -> None:
    converged(env_of(pipeline))
    BEFORE["rows"] = marts_rows(pipeline)
    BEFORE["watermark"] = marts_watermark(pipeline)
    # The DDL's transaction changes a line the marts count first: none of it may reach them.
    source(pipeline,
           "UPDATE order_details SET quantity = quantity + 5, total_price = total_price + 1"
           " WHERE order_detail_id = (SELECT min(order_detail_id) FROM order_details)",
           "ALTER TABLE order_details ALTER COLUMN total_price TYPE numeric(14,4)")
    generator = start_live_load(env_of(pipeline), seed=202, duration=10, rate=40)
    wait_for_log(pipeline, PAUSED_LINE)
    finish_live_load(generator)
    time.sleep(3)  # what the worker would have applied after the load is read by now

    log = marts_log(pipeline)
    line = next(line for line in log.splitlines() if PAUSED_LINE in line)
    assert "ERROR" in line and "order_details.total_price" in line
    assert "numeric(12,2) -> numeric(14,4)" in line and "cdc marts --rebuild" in line
    assert marts_rows(pipeline) == BEFORE["rows"]
    assert marts_watermark(pipeline) == BEFORE["watermark"]
    scrape = metrics(pipeline)
    assert PAUSED_METRIC in scrape
    assert 'cdc_dead_letters_total{stage="marts"} 0.0' in scrape  # nothing dead-lettered for schema reasons
    health = run_cdc("health", "marts", env=env_of(pipeline))
    assert health.returncode == 1 and "paused" in health.stdout + health.stderr
    assert run_cdc("verify", "--scope", "replica", env=env_of(pipeline)).returncode == 0  # the replica goes on


def test_a_restarted_worker_stays_paused(pipeline: Path) -> None:
    result = run_cdc("local", "restart", "--dir", str(pipeline), "marts")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    generator = start_live_load(env_of(pipeline), seed=203, duration=6, rate=40)
    wait_for_log(pipeline, PAUSED_LINE, count=2)
    finish_live_load(generator)
    time.sleep(3)
    assert marts_rows(pipeline) == BEFORE["rows"]
    assert marts_watermark(pipeline) == BEFORE["watermark"]
    assert PAUSED_METRIC in metrics(pipeline)


def test_a_rebuild_clears_the_pause_and_the_replayed_topics_pause_the_marts_at_the_same_transaction(
        pipeline: Path) -> None:
    # The marts are not adapted to the new type: replayed from the topics' start, they stop where they did.
    result = run_cdc("marts", "--rebuild", env=env_of(pipeline))
    assert result.returncode == 0, result.stderr[-2000:]
    mysql = MySqlSettings.from_env(env_of(pipeline))
    assert fetch_all(mysql, "SELECT count(*) FROM mart_pause")[0][0] == 0
    assert marts_rows(pipeline) == {mart.name: [] for mart in MARTS}
    result = run_cdc("local", "restart", "--dir", str(pipeline), "marts")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    wait_for_log(pipeline, PAUSED_LINE, count=3)
    assert marts_rows(pipeline) == BEFORE["rows"]
    assert marts_watermark(pipeline) == BEFORE["watermark"]
