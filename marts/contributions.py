"""Pure delta logic: what a change of the state does to the mart rows.

A mart row is a group: key columns, label columns (names, not aggregated)
and additive measures. For one change the store computes the contributions
of the groups the changed row takes part in, BEFORE and AFTER the change
(each a mapping key -> Group, from the state tables), and the difference
is what the mart rows move by. Deltas of a batch are merged per key and
applied at once. A group whose `count` measure reaches zero is empty and
disappears from the mart.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Key = tuple[Any, ...]
Measures = tuple[int | Decimal, ...]


@dataclass(frozen=True)
class MartSpec:
    """One mart table: its columns by role, and its defining query on the state tables."""

    name: str
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    measures: tuple[str, ...]
    count: str  # the measure that is zero exactly when the group is empty
    measure_types: tuple[str, ...]  # SQL types; BIGINT measures are int in Python, the others Decimal
    contribution_sql: str  # selects keys, labels, measures; "{scope}" is replaced by a WHERE fragment

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys + self.labels + self.measures

    def group(self, row: Iterable[Any]) -> Group:
        values = tuple(row)
        width, labels = len(self.keys), len(self.labels)
        measures = values[width + labels:]
        return Group(values[:width], values[width:width + labels], tuple(
            int(value) if sql_type.startswith("BIGINT") else Decimal(value)
            for value, sql_type in zip(measures, self.measure_types)
        ))


@dataclass(frozen=True)
class Group:
    key: Key
    labels: tuple[Any, ...]
    measures: Measures


@dataclass(frozen=True)
class Delta:
    """What to add to one mart row; labels_current: the labels are the group's present names."""

    key: Key
    labels: tuple[Any, ...]
    measures: Measures
    labels_current: bool


def _minus(a: Measures, b: Measures) -> Measures:
    return tuple(x - y for x, y in zip(a, b))


def _plus(a: Measures, b: Measures) -> Measures:
    return tuple(x + y for x, y in zip(a, b))


def diff(before: Mapping[Key, Group], after: Mapping[Key, Group]) -> list[Delta]:
    """The deltas that turn the `before` contributions into the `after` ones (unchanged groups omitted)."""
    deltas = []
    for key in list(before) + [key for key in after if key not in before]:
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None and old == new:
            continue
        if new is None:
            assert old is not None
            deltas.append(Delta(key, old.labels, tuple(-m for m in old.measures), False))
        elif old is None:
            deltas.append(Delta(key, new.labels, new.measures, True))
        else:
            deltas.append(Delta(key, new.labels, _minus(new.measures, old.measures), True))
    return deltas


class DeltaBuffer:
    """The merged deltas of one batch, per mart and key (later current labels win)."""

    def __init__(self) -> None:
        self._deltas: dict[str, dict[Key, Delta]] = {}

    def add(self, mart: str, deltas: Iterable[Delta]) -> None:
        merged = self._deltas.setdefault(mart, {})
        for delta in deltas:
            seen = merged.get(delta.key)
            merged[delta.key] = delta if seen is None else merge(seen, delta)

    def deltas(self, mart: str) -> list[Delta]:
        return list(self._deltas.get(mart, {}).values())

    def __len__(self) -> int:
        return sum(len(deltas) for deltas in self._deltas.values())


def merge(first: Delta, second: Delta) -> Delta:
    """first, then second."""
    labels_from = second if second.labels_current or not first.labels_current else first
    return Delta(
        first.key, labels_from.labels, _plus(first.measures, second.measures),
        first.labels_current or second.labels_current,
    )


def groups(spec: MartSpec, rows: Iterable[Iterable[Any]]) -> dict[Key, Group]:
    return {group.key: group for group in map(spec.group, rows)}


USER_ACTIVITY = MartSpec(
    name="user_activity",
    keys=("user_id", "status"),
    labels=("first_name", "last_name"),
    measures=("order_count", "total_spent"),
    count="order_count",
    measure_types=("BIGINT NOT NULL", "DECIMAL(20,2) NOT NULL"),
    contribution_sql=(
        "SELECT o.user_id, o.status, u.first_name, u.last_name, COUNT(*), SUM(o.total_amount)"
        " FROM mart_state_orders o JOIN mart_state_users u ON u.user_id = o.user_id"
        " WHERE {scope} GROUP BY o.user_id, o.status, u.first_name, u.last_name"
    ),
)
SALES_BY_CATEGORY = MartSpec(
    name="sales_by_category",
    keys=("category_id",),
    labels=("name",),
    # line_count is not in the definition: it says when a group is empty
    # without relying on quantities being positive.
    measures=("total_quantity_sold", "total_sales", "line_count"),
    count="line_count",
    measure_types=("BIGINT NOT NULL", "DECIMAL(20,2) NOT NULL", "BIGINT NOT NULL"),
    contribution_sql=(
        "SELECT c.category_id, c.name, SUM(l.quantity), SUM(l.total_price), COUNT(*)"
        " FROM mart_state_lines l"
        " JOIN mart_state_orders o ON o.order_id = l.order_id"
        " JOIN mart_state_products p ON p.product_id = l.product_id"
        " JOIN mart_state_categories c ON c.category_id = p.category_id"
        " WHERE o.status <> 'cancelled' AND {scope} GROUP BY c.category_id, c.name"
    ),
)
MARTS = (USER_ACTIVITY, SALES_BY_CATEGORY)
