"""The real local stack, started once per test session (fixtures stack_dir and stack_env)."""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc.local import stack as local_stack


def _sigterm_as_interrupt(signum: int, frame: object) -> None:
    # CI may stop pytest with SIGTERM: turn it into KeyboardInterrupt so that
    # fixture finalizers (stack teardown) still run.
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def stack_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: that lives under a 0700 folder which the
    # PostgreSQL service user (when running as root) cannot traverse.
    folder = Path(tempfile.mkdtemp(prefix="cdc-test-stack-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    if not os.environ.get("CDC_KEEP_TEST_STACK"):
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_env(stack_dir: Path) -> Iterator[dict[str, str]]:
    """The running stack's settings (PG_DSN, MYSQL_URL, KAFKA_BOOTSTRAP, CONNECT_URL).

    Every process is started with a parent-death signal, so even a SIGKILLed
    pytest leaves nothing behind; normally teardown stops them in order.
    """
    previous = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    try:
        state = local_stack.up(stack_dir, die_with_parent=True)
        yield dict(state.env)
    finally:
        local_stack.down(stack_dir)
        signal.signal(signal.SIGTERM, previous)
