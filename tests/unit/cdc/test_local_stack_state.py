"""The local stack's state on disk: its passwords kept across runs, and readable by its owner only."""
from __future__ import annotations

import stat
from pathlib import Path

from cdc.local.stack import ENV_FILE, STATE_FILE, StackState, write_env_file, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_state_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    StackState(tmp_path, passwords={"postgres": "s3cret"}).save()

    assert mode(tmp_path / STATE_FILE) == 0o600


def test_the_env_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    write_env_file(tmp_path, {"PG_DSN": "postgresql://postgres:s3cret@127.0.0.1:1/shop"})

    assert mode(tmp_path / ENV_FILE) == 0o600


def test_a_file_written_before_with_another_mode_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / ENV_FILE
    path.write_text("old\n")
    path.chmod(0o644)

    write_private(path, "new\n")

    assert (mode(path), path.read_text()) == (0o600, "new\n")


def test_a_private_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_private(tmp_path / STATE_FILE, "{}")

    assert [path.name for path in tmp_path.iterdir()] == [STATE_FILE]


def test_the_passwords_are_kept_across_a_save_and_a_load(tmp_path: Path) -> None:
    StackState(tmp_path, passwords={"postgres": "pg-secret", "mariadb": "db-secret"}).save()

    assert StackState.load(tmp_path).passwords == {"postgres": "pg-secret", "mariadb": "db-secret"}


def test_a_state_from_before_the_passwords_loads_without_any(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text('{"env": {}, "processes": {}}')

    assert StackState.load(tmp_path).passwords == {}


def test_a_password_is_generated_once_and_kept_in_the_state_file(tmp_path: Path) -> None:
    state = StackState(tmp_path)

    generated = state.password("postgres")

    assert len(generated) == 32 and state.password("postgres") == generated
    assert StackState.load(tmp_path).password("postgres") == generated


def test_each_database_gets_a_password_of_its_own(tmp_path: Path) -> None:
    state = StackState(tmp_path)

    assert state.password("postgres") != state.password("mariadb")


def test_the_passwords_stay_out_of_the_states_repr(tmp_path: Path) -> None:
    state = StackState(tmp_path, env={"PG_DSN": "postgresql://postgres:pg-secret@127.0.0.1:1/shop"},
                       passwords={"postgres": "pg-secret"})

    assert "pg-secret" not in repr(state)
