"""Which recreated topics make a stage's stored positions meaningless, and how it says so."""
from __future__ import annotations

from core.generations import Stage, changed, explain, recreated

STAGE = Stage(reader="the replica", positions="The group's offsets", command="cdc consume")


def test_a_topic_applied_from_with_a_new_id_is_recreated() -> None:
    assert recreated({"t": "a"}, {"t": "b"}, applied={"t"}) == ["t"]


def test_a_topic_never_applied_from_may_change_its_id() -> None:
    assert recreated({"t": "a"}, {"t": "b"}, applied=set()) == []


def test_a_topic_seen_for_the_first_time_is_not_recreated() -> None:
    assert recreated({}, {"t": "b"}, applied={"t"}) == []


def test_an_unchanged_id_is_not_recreated() -> None:
    assert recreated({"t": "a", "u": "c"}, {"t": "a", "u": "d"}, applied={"t", "u"}) == ["u"]


def test_changed_topics_include_new_ones_and_exclude_unchanged_ones() -> None:
    assert changed({"t": "a", "u": "c"}, {"t": "a", "u": "d", "v": "e"}) == ["u", "v"]


def test_the_explanation_names_the_topics_and_the_stages_own_ways_out() -> None:
    message = explain(STAGE, ["t"], {"t": "a"}, {"t": "b"})

    assert message == (
        "source topics were recreated since the replica applied them: t (id a -> b). The group's offsets "
        "belong to the old topics, so the new ones cannot be applied safely. If the old topics were applied "
        "to their end and the connector resumed from its stored position (`cdc local down`/`up` does both), "
        "run `cdc consume --adopt-topics`; if the new topics start with a new snapshot, run "
        "`cdc consume --rebuild`. Then start `cdc consume` again.")
