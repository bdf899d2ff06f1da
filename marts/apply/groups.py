"""Pure delta logic: what a change of the state does to the mart rows.

A mart row is a group: key columns, label columns (names, not aggregated)
and additive measures (marts.definitions). For one change the store computes the contributions
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

from marts.definitions import MartSpec

Key = tuple[Any, ...]
Measures = tuple[int | Decimal, ...]


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
    return tuple(x - y for x, y in zip(a, b, strict=True))


def _plus(a: Measures, b: Measures) -> Measures:
    return tuple(x + y for x, y in zip(a, b, strict=True))


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


def group(spec: MartSpec, row: Iterable[Any]) -> Group:
    """One row of the mart's state query (keys, labels, measures) as a Group, measures exact."""
    values = tuple(row)
    width, labels = len(spec.keys), len(spec.labels)
    return Group(values[:width], values[width:width + labels], tuple(
        int(value) if spec.sql_types[name].startswith("BIGINT") else Decimal(value)
        for name, value in zip(spec.measures, values[width + labels:], strict=True)
    ))


def groups(spec: MartSpec, rows: Iterable[Iterable[Any]]) -> dict[Key, Group]:
    return {found.key: found for found in (group(spec, row) for row in rows)}
