"""marts.apply.groups: the pure delta logic (before/after contributions -> deltas, merged per batch)."""
from __future__ import annotations

from decimal import Decimal

from marts.apply.groups import Delta, DeltaBuffer, Group, diff, groups, merge
from marts.definitions import SALES_BY_CATEGORY, USER_ACTIVITY
from marts.state_tables import LINES, ORDERS, USERS


def ua(user_id: int, status: str, count: int, amount: str, last: str = "Lee") -> Group:
    return Group((user_id, status), ("Ann", last), (count, Decimal(amount)))


def test_status_change_moves_the_order_between_groups() -> None:
    before = {(1, "paid"): ua(1, "paid", 3, "30.00")}
    after = {(1, "paid"): ua(1, "paid", 2, "20.00"), (1, "shipped"): ua(1, "shipped", 1, "10.00")}
    assert diff(before, after) == [
        Delta((1, "paid"), ("Ann", "Lee"), (-1, Decimal("-10.00")), True),
        Delta((1, "shipped"), ("Ann", "Lee"), (1, Decimal("10.00")), True),
    ]


def test_a_vanishing_group_is_retracted_whole_with_its_old_labels_not_current() -> None:
    assert diff({(1, "paid"): ua(1, "paid", 2, "5.50")}, {}) == [
        Delta((1, "paid"), ("Ann", "Lee"), (-2, Decimal("-5.50")), False)
    ]


def test_unchanged_groups_give_no_delta_and_label_changes_do() -> None:
    same = {(1, "paid"): ua(1, "paid", 2, "5.50")}
    assert diff(same, dict(same)) == []
    renamed = {(1, "paid"): ua(1, "paid", 2, "5.50", last="Smith")}
    assert diff(same, renamed) == [Delta((1, "paid"), ("Ann", "Smith"), (0, Decimal("0.00")), True)]


def test_merge_sums_measures_and_keeps_the_latest_current_labels() -> None:
    first = Delta((5,), ("Books",), (3, Decimal("1.10"), 1), True)
    stale = Delta((5,), ("Old",), (-3, Decimal("-1.10"), -1), False)
    renamed = Delta((5,), ("Novels",), (2, Decimal("2.00"), 1), True)
    assert merge(first, stale) == Delta((5,), ("Books",), (0, Decimal("0.00"), 0), True)
    assert merge(merge(first, stale), renamed).labels == ("Novels",)
    assert merge(stale, first).labels == ("Books",)


def test_buffer_merges_per_mart_and_key() -> None:
    buffer = DeltaBuffer()
    buffer.add("sales_by_category", [Delta((5,), ("B",), (1, Decimal(1), 1), True)])
    buffer.add("sales_by_category", [Delta((5,), ("B",), (2, Decimal(2), 1), True),
                                     Delta((6,), ("C",), (1, Decimal(1), 1), True)])
    buffer.add("user_activity", [Delta((1, "paid"), ("A", "L"), (1, Decimal(1)), True)])
    assert len(buffer) == 3
    assert buffer.deltas("sales_by_category")[0].measures == (3, Decimal(3), 2)
    assert buffer.deltas("nothing") == []


def test_groups_convert_mysql_sums_exactly() -> None:
    # MySQL returns SUM() of integers as Decimal; counts and quantities become int, money stays Decimal.
    rows = [(5, "Books", Decimal("7"), Decimal("12.30"), 2)]
    assert groups(SALES_BY_CATEGORY, rows) == {(5,): Group((5,), ("Books",), (7, Decimal("12.30"), 2))}
    assert USER_ACTIVITY.columns == ("user_id", "status", "first_name", "last_name", "order_count", "total_spent")


def test_label_only_changes_are_told_apart_from_measured_ones() -> None:
    assert USERS.label_only((1, "Ann", "Lee"), (1, "Ann", "Smith"))
    assert not USERS.label_only((1, "Ann", "Lee"), (1, "Ann", "Lee"))
    assert not ORDERS.label_only((1, 2, "paid", Decimal(1)), (1, 2, "shipped", Decimal(1)))
    assert not LINES.label_only((1, 2, 3, 4, Decimal(1)), (1, 2, 3, 5, Decimal(1)))
