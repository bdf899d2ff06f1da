import os
import subprocess
from pathlib import Path

from cdc.local.postgres import _remove_stale_locks


def a_finished_process_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()  # reaped: the pid names no process now
    return process.pid


def write_lock(path: Path, pid: int) -> Path:
    path.write_text(f"{pid}\n/data\n1764400000\n5432\n")
    return path


def test_the_lock_files_of_a_killed_server_are_removed(tmp_path: Path) -> None:
    pid = a_finished_process_pid()
    postmaster = write_lock(tmp_path / "postmaster.pid", pid)
    socket = write_lock(tmp_path / ".s.PGSQL.5432.lock", pid)

    _remove_stale_locks(tmp_path)

    assert not postmaster.exists() and not socket.exists()


def test_the_lock_file_of_a_running_process_is_left_for_postgres_to_refuse(tmp_path: Path) -> None:
    postmaster = write_lock(tmp_path / "postmaster.pid", os.getpid())

    _remove_stale_locks(tmp_path)

    assert postmaster.exists()


def test_an_unreadable_lock_file_is_left_alone(tmp_path: Path) -> None:
    postmaster = tmp_path / "postmaster.pid"
    postmaster.write_text("not a pid\n")

    _remove_stale_locks(tmp_path)

    assert postmaster.exists()
