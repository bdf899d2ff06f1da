"""Which MySQL server a local stack runs: chosen by its first `up`, kept, and named by its part."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from cdc.cli import local_restart, local_up
from cdc.errors import LocalStackError
from cdc.local.stack import MYSQL_SERVERS, STATE_FILE, StackState, _choose_mysql


def test_a_new_stack_runs_mariadb_by_default(tmp_path: Path) -> None:
    state = StackState.load(tmp_path)

    assert (state.mysql, state.infra) == ("mariadb", ("postgres", "mariadb", "broker", "connect"))


def test_a_new_stack_asked_for_oracle_mysql_records_it_and_names_its_part_mysql(tmp_path: Path) -> None:
    _choose_mysql(StackState.load(tmp_path), "oracle")

    state = StackState.load(tmp_path)
    assert (state.mysql, state.infra) == ("oracle", ("postgres", "mysql", "broker", "connect"))


def test_a_stack_from_before_the_choice_runs_mariadb(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text(json.dumps({"env": {}, "processes": {}}))

    assert StackState.load(tmp_path).mysql == "mariadb"


def test_a_stack_refuses_to_move_to_another_server(tmp_path: Path) -> None:
    StackState(tmp_path).save()

    with pytest.raises(LocalStackError) as raised:
        _choose_mysql(StackState.load(tmp_path), "oracle")
    assert str(raised.value) == (f"the stack in {tmp_path} runs MariaDB, not Oracle MySQL: "
                                 "start that one in another --dir")


def test_an_unknown_server_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LocalStackError) as raised:
        _choose_mysql(StackState.load(tmp_path), "percona")
    assert str(raised.value) == "unknown MySQL server 'percona': one of mariadb, oracle"


def choices(command: click.Command, name: str) -> list[str]:
    param = next(param for param in command.params if param.name == name)
    assert isinstance(param.type, click.Choice)
    return list(param.type.choices)


def test_the_cli_offers_every_server_and_restarts_every_server_part() -> None:
    assert choices(local_up, "mysql") == list(MYSQL_SERVERS)
    assert {server.part for server in MYSQL_SERVERS.values()} <= set(choices(local_restart, "part"))
