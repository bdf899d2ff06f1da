"""core.leader: the lock's name, the standby's throttled notice, and a lost lock stopping the worker."""
from __future__ import annotations

import pytest

from core.errors import LeadershipLost
from core.leader import MAX_LOCK_NAME, Leadership, Notice, lock_name
from core.settings import MySqlSettings


def test_the_lock_is_named_after_the_stage_and_the_database() -> None:
    assert lock_name("replica", "shop") == "cdc:replica:shop"


def test_a_name_too_long_for_mysql_keeps_its_start_and_ends_in_a_digest_of_the_database() -> None:
    name = lock_name("marts", "d" * 64)

    assert (len(name), name.startswith("cdc:marts:ddd"), name[-17]) == (MAX_LOCK_NAME, True, "~")


def test_two_long_databases_with_one_start_get_two_locks() -> None:
    assert lock_name("marts", "d" * 60 + "1") != lock_name("marts", "d" * 60 + "2")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_standby_notice_is_due_at_once_then_once_a_minute() -> None:
    clock = Clock()
    notice = Notice(60, clock)
    seen = []
    for now in (100.0, 101.0, 159.0, 160.0, 161.0, 220.0):
        clock.now = now
        seen.append(notice.due())

    assert seen == [True, False, False, True, False, True]


def leadership() -> Leadership:
    return Leadership(MySqlSettings.from_env({"MYSQL_URL": "mysql://root@127.0.0.1:1/shop"}), "replica", "consumer")


def test_holding_the_lock_lets_the_worker_go_on() -> None:
    leadership().check()  # no error


def test_a_lock_lost_to_another_instance_stops_the_worker_saying_how_it_restarts() -> None:
    leader = leadership()
    leader.lost.set()

    with pytest.raises(LeadershipLost, match="another consumer worker holds the lock cdc:replica:shop .* standby"):
        leader.check()


def test_constructing_it_contacts_no_server() -> None:
    assert leadership().name == "cdc:replica:shop"
