"""The real local stacks, each started once per test session (once per pytest-xdist process), and the lane a test
module runs on.

The MariaDB stack (the default) serves every test of the session; the Oracle MySQL stack (`cdc local up --mysql
oracle`) serves the tests marked `on_both_servers`, which run once per server: test_x[mariadb],
test_x[oracle]. It starts when its first test does. CDC_TEST_ORACLE_MYSQL=0 turns that lane off
(its tests are then skipped, saying so); otherwise a server that cannot be fetched fails them.

stack_env and stack_dir are module-scoped views of the lane's stack; a module fixture that builds
on them (a seed) runs again for each lane.
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdc.local import stack as local_stack
from cdc.local.processes import stat_fields

ORACLE_LANE_SWITCH = "CDC_TEST_ORACLE_MYSQL"
LANES = ("mariadb", "oracle")  # MYSQL_SERVERS kinds
# A test (or a module's pytestmark) that runs against each server: its stack_env and stack_dir are the lane's.
on_both_servers = pytest.mark.parametrize("mysql_lane", LANES, indirect=True)


@dataclass(frozen=True)
class Lane:
    """A running stack and its kind of MySQL server."""

    mysql: str
    folder: Path
    env: dict[str, str]

    @property
    def mysql_part(self) -> str:
        """The stack's MySQL part, as `restart` names it ("mariadb" or "mysql")."""
        return local_stack.MYSQL_SERVERS[self.mysql].part


# The folders of this process's running stacks: a failed test's report ends with what they were doing.
LIVE_STACKS: set[Path] = set()
ERROR_LINES = 5  # the last ones of each part's log
DEAD_PART_LINES = 15  # the last lines of the log of a part that is not running


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report gets, per running stack of its process, which parts run and their logs' last errors:
    on CI that report is all there is (the stack's folder is removed after the session)."""
    report: pytest.TestReport = yield
    if report.failed:
        for folder in sorted(LIVE_STACKS):
            try:
                report.sections.append((f"stack {folder}", stack_report(folder)))
            except Exception as exc:  # noqa: BLE001 (the report must not hide the test's own failure)
                report.sections.append((f"stack {folder}", f"cannot report on it: {exc!r}"))
    return report


def stack_report(folder: Path) -> str:
    state = local_stack.StackState.load(folder)
    lines = []
    for name, record in state.processes.items():
        alive = record.alive()
        lines.append(f"{name} (pid {record.pid}): {'running' if alive else 'NOT RUNNING'}, log {record.log}")
        text = _read(Path(record.log)).splitlines()
        errors = [line for line in text if any(word in line for word in ("ERROR", "FATAL", "Traceback", "Error:"))]
        lines += [f"    {line[:300]}" for line in (text[-DEAD_PART_LINES:] if not alive else errors[-ERROR_LINES:])]
    return "\n".join(lines)


def _read(path: Path, most: int = 256 * 1024) -> str:
    """The last `most` bytes of the file (a Kafka Connect log grows to megabytes), "" if it cannot be read."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - most))
            return file.read().decode(errors="replace")
    except OSError:
        return ""


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    # CI may stop pytest with SIGTERM: turn it into KeyboardInterrupt so that
    # fixture finalizers (stack teardown) still run.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist a SIGTERM (CI's) reaches only the controlling process, which holds no stack: it passes the
    signal on to its worker processes, whose handler below turns it into an interrupt that tears their stacks down."""
    if not hasattr(config, "workerinput") and getattr(config.option, "numprocesses", None):
        signal.signal(signal.SIGTERM, _pass_on_to_workers)


def _pass_on_to_workers(signum: int, frame: object) -> None:
    for pid in _children(os.getpid()):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _children(parent: int) -> list[int]:
    """The pids whose parent is `parent` (from /proc: xdist keeps no public list of its workers' pids)."""
    pids = (int(entry.name) for entry in Path("/proc").glob("[0-9]*"))
    return [pid for pid in pids if (fields := stat_fields(pid)) is not None and int(fields[1]) == parent]


def _running_stack(mysql: str) -> Iterator[Lane]:
    """A stack of its own folder, stopped and removed at the end.

    Every process is started with a parent-death signal, so even a SIGKILLed
    pytest leaves nothing behind; normally teardown stops them in order.
    """
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        with stack_folder(f"cdc-test-stack-{mysql}-") as folder:
            state = local_stack.up(folder, die_with_parent=True, mysql=mysql)
            yield Lane(mysql, folder, dict(state.env))
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def stack_folder(prefix: str) -> Iterator[Path]:
    """A new folder for a test's stack; afterwards the stack's processes are stopped and the folder removed (kept,
    with a handover for its next `up`, when CDC_KEEP_TEST_STACK is set)."""
    # Not pytest's tmp_path: that lives under a 0700 folder which the
    # PostgreSQL service user (when running as root) cannot traverse.
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    keep = bool(os.environ.get("CDC_KEEP_TEST_STACK"))
    LIVE_STACKS.add(folder)
    try:
        yield folder
    finally:
        LIVE_STACKS.discard(folder)
        if (folder / local_stack.STATE_FILE).exists():
            local_stack.down(folder, hand_over=keep)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mariadb_stack() -> Iterator[Lane]:
    yield from _running_stack("mariadb")


@pytest.fixture(scope="session")
def oracle_stack() -> Iterator[Lane]:
    if os.environ.get(ORACLE_LANE_SWITCH, "1").strip() == "0":
        pytest.skip(f"the Oracle MySQL lane is off ({ORACLE_LANE_SWITCH}=0)")
    yield from _running_stack("oracle")


@pytest.fixture(scope="module")
def mysql_lane(request: pytest.FixtureRequest) -> Lane:
    """The stack of the test's lane: MariaDB unless the test is marked on_both_servers."""
    mysql = getattr(request, "param", "mariadb")
    lane: Lane = request.getfixturevalue(f"{mysql}_stack")
    return lane


@pytest.fixture(scope="module")
def stack_dir(mysql_lane: Lane) -> Path:
    return mysql_lane.folder


@pytest.fixture(scope="module")
def stack_env(mysql_lane: Lane) -> dict[str, str]:
    """The running stack's settings (PG_DSN, MYSQL_URL, KAFKA_BOOTSTRAP, CONNECT_URL)."""
    return dict(mysql_lane.env)
