"""The benchmarks' shared helpers that need no stack: percentiles, the table, databases, the generator's JSON."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.cli import LiveReport, SeedReport
from bench.report import Machine, machine_line, measures_table, percentile
from bench.stack import stack_env
from cdc.local.stack import StackState
from generator.dataset import FirstIds
from generator.live import LiveSummary
from generator.report import live_json, seed_json
from generator.seed import SeedSummary
from generator.transactions import Kind


def test_percentile_is_the_nearest_rank_without_interpolation() -> None:
    values = [float(value) for value in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (51.0, 100.0, 100.0)
    assert percentile([3.0, 1.0, 2.0], 0.0) == 1.0
    assert math.isnan(percentile([], 0.5))


def test_measures_table_pads_the_names_to_the_longest() -> None:
    assert measures_table([("short", "1 ms"), ("a longer name", "2 ms")]).splitlines() == [
        "measure        figure",
        "-------------  " + "-" * 40,
        "short          1 ms",
        "a longer name  2 ms",
    ]


def test_the_machine_is_described_from_this_host() -> None:
    host = Machine.current()
    assert host.nproc >= 1 and host.cpus >= host.nproc and host.model and host.python


def test_the_settings_of_a_running_stack_are_its_states(tmp_path: Path) -> None:
    env = {"KAFKA_BOOTSTRAP": "127.0.0.1:9092", "MYSQL_URL": "mysql://root@h:1/db"}
    StackState(tmp_path, env=env).save()
    assert stack_env(tmp_path / "stack.env") == env


def test_no_stack_no_settings(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no running stack"):
        stack_env(tmp_path / "stack.env")


def test_the_machine_line_names_the_cpus_and_when_the_load_was_read() -> None:
    line = machine_line("end")
    assert line.startswith("machine: ") and "CPUs (nproc " in line and line.endswith("at the end (shared machine)")


def test_the_bench_reads_the_generators_json_summaries() -> None:
    seeded = SeedSummary(rows={"users": 10, "orders": 30}, seconds=2.0, first_ids=FirstIds())
    assert SeedReport.from_json(seed_json(seeded)) == SeedReport(rows={"users": 10, "orders": 30}, total_rows=40)
    ran = LiveSummary(seed=7, requested_rate=100.0, elapsed_seconds=4.0,
                      counts={kind: (40 if kind is Kind.NEW_ORDER else 10) for kind in Kind}, failed=0,
                      max_lag_seconds=0.0)
    report = LiveReport.from_json(live_json(ran))
    assert report == LiveReport(transactions_per_second=ran.achieved_rate, elapsed_seconds=4.0, new_orders=40)
    assert report.new_orders_per_second == 10.0
