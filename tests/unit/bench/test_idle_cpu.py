"""The idle-CPU benchmark's reading of /proc: a process group's CPU ticks, and its table."""
from __future__ import annotations

import subprocess
import sys
import time

from bench.idle_cpu import group_ticks, table


def test_a_busy_process_groups_ticks_grow_and_a_sleeping_ones_do_not() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    sleeping = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        time.sleep(0.3)  # both started
        before = group_ticks(busy.pid), group_ticks(sleeping.pid)
        time.sleep(1.0)
        after = group_ticks(busy.pid), group_ticks(sleeping.pid)
    finally:
        for process in (busy, sleeping):
            process.kill()
            process.wait()

    assert after[0] > before[0] and after[1] == before[1]


def test_the_table_gives_each_part_and_the_whole_stack() -> None:
    assert table({"postgres": 1.5, "connect": 8.0}, 30).splitlines()[-3:] == [
        "postgres (% of a core)         1.5",
        "connect (% of a core)          8.0",
        "the whole stack (% of a core)  9.5"]
