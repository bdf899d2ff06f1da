"""The local stack's CPU at rest: what each of its parts burns with no source traffic.

`python -m bench.idle_cpu [--settle 20] [--seconds 30]` starts a stack of its own (the infrastructure and
the exporter, no workers), waits `--settle` seconds for its start-up work to end, then reads the CPU time
of each part's processes (its whole process group: PostgreSQL's backends and walsender too) over
`--seconds`, and prints each part's share of one core. Debezium's heartbeat (every 10 s) is the only
source traffic. The test suite runs several such stacks at once, so their idle CPU is the suite's too.
`--poll-interval-ms N` sets the connector's poll.interval.ms (10 in connectors/postgres-source.json) first.
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.report import machine_line, measures_table
from bench.stack import own_stack
from cdc.local.processes import stat_fields
from cdc.local.stack import StackState
from connectors.settings import ConnectorSettings
from core.kafka_connect import ConnectClient

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
UTIME, STIME, PGRP = 11, 12, 2  # indexes in stat_fields (after the command's name)


def group_ticks(group: int) -> int:
    """The user + system CPU ticks of the live processes of process group `group`."""
    total = 0
    for entry in Path("/proc").glob("[0-9]*"):
        fields = stat_fields(int(entry.name))
        if fields is not None and int(fields[PGRP]) == group:
            total += int(fields[UTIME]) + int(fields[STIME])
    return total


def shares(groups: Mapping[str, int], seconds: float) -> dict[str, float]:
    """Each part's CPU over `seconds`, in % of one core."""
    before = {part: group_ticks(group) for part, group in groups.items()}
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return {part: 100 * (group_ticks(group) - before[part]) / TICKS_PER_SECOND / elapsed
            for part, group in groups.items()}


def set_poll_interval(state: StackState, milliseconds: int) -> None:
    client, name = ConnectClient(state.env["CONNECT_URL"]), ConnectorSettings.from_env(state.env).name
    config = client.config(name)
    if config is None:
        raise SystemExit(f"the stack's Kafka Connect has no connector {name}")
    client.put_config(name, {**config, "poll.interval.ms": str(milliseconds)})
    client.wait_until_running(name, timeout=120)


def table(measured: Mapping[str, float], seconds: float) -> str:
    rows = [(f"{part} (% of a core)", f"{share:.1f}") for part, share in measured.items()]
    rows.append(("the whole stack (% of a core)", f"{sum(measured.values()):.1f}"))
    return f"idle CPU over {seconds:.0f} s\n" + measures_table(rows)


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to wait after start-up (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds measured (default 30)")
    parser.add_argument("--poll-interval-ms", type=int, help="the connector's poll.interval.ms (default: its own)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    with own_stack("cdc-idle-bench-") as state:
        if args.poll_interval_ms is not None:
            set_poll_interval(state, args.poll_interval_ms)
        time.sleep(args.settle)
        groups = {name: record.pid for name, record in state.processes.items()}  # each part leads its group
        measured = shares(groups, args.seconds)
    print(table(measured, args.seconds))
    print(machine_line("end"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
