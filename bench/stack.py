"""The local stack a benchmark runs on, and the MySQL databases it measures in."""
from __future__ import annotations

import gc
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cdc.local import stack as local_stack
from cdc.local.processes import stop
from cdc.local.stack import StackState
from core.mysql import close_quietly, connect
from core.settings import MySqlSettings


def _quiet(message: str) -> None:
    pass


@contextmanager
def own_stack(prefix: str, keep: bool = False) -> Iterator[StackState]:
    """A stack started for the benchmark in a new /tmp folder (die_with_parent), torn down afterwards unless keep."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    try:
        print(f"starting a stack in {folder} ...", flush=True)
        yield local_stack.up(folder, progress=_quiet, die_with_parent=True)
    finally:
        gc.collect()  # finished Kafka clients (in reference cycles) would log the broker's stop
        if not keep:
            local_stack.down(folder, progress=_quiet, hand_over=False)
            shutil.rmtree(folder, ignore_errors=True)


def stop_connect(state: StackState) -> None:
    """Stop Kafka Connect (no more events come; its JVM no longer shares the CPUs)."""
    stop(state.processes["connect"])


def stack_env(path: Path) -> dict[str, str]:
    """The settings of the running stack whose stack.env is `path` (`cdc local up` keeps them in its state)."""
    env = StackState.load(path.parent).env
    if not env:
        raise SystemExit(f"no running stack in {path.parent} (start one with `cdc local up --dir DIR`)")
    return env


def drop_database(base: MySqlSettings, database: str) -> None:
    conn = connect(base, database=False)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        close_quietly(conn)
