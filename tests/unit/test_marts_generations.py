"""Which recreated topics make the marts' stored offsets meaningless."""
from __future__ import annotations

from marts.generations import recreated


def test_a_topic_applied_from_with_a_new_id_is_recreated() -> None:
    assert recreated({"t": "a"}, {"t": "b"}, applied={"t"}) == ["t"]


def test_a_topic_never_applied_from_may_change_its_id() -> None:
    assert recreated({"t": "a"}, {"t": "b"}, applied=set()) == []


def test_a_topic_seen_for_the_first_time_is_not_recreated() -> None:
    assert recreated({}, {"t": "b"}, applied={"t"}) == []


def test_an_unchanged_id_is_not_recreated() -> None:
    assert recreated({"t": "a", "u": "c"}, {"t": "a", "u": "d"}, applied={"t", "u"}) == ["u"]
