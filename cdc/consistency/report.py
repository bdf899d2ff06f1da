"""Counting torn views over the samples, and the report (pure: no database here)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdc.consistency.invariants import Invariant

EXAMPLES = 5  # offending rows kept per invariant, from the first torn samples on


def describe(columns: Sequence[str], row: Sequence[Any]) -> str:
    """One violating row as `column=value, ...` (its id first)."""
    return ", ".join(f"{column}={value}" for column, value in zip(columns, row, strict=True))


@dataclass(frozen=True)
class Finding:
    """What one invariant showed in one snapshot: how many rows break it, and the first of them."""

    invariant: str
    violations: int
    examples: tuple[str, ...] = ()

    @property
    def torn(self) -> bool:
        return self.violations > 0


def finding(invariant: Invariant, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Finding:
    """The finding of `invariant`'s query result (`rows`, named by `columns`)."""
    return Finding(invariant.name, len(rows), tuple(describe(columns, row) for row in rows[:EXAMPLES]))


@dataclass(frozen=True)
class Sample:
    """One consistent snapshot: every selected invariant's finding, `at` seconds after sampling began."""

    at: float
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Tally:
    """One invariant over all samples."""

    invariant: Invariant
    samples: int = 0
    torn: int = 0
    most_violations: int = 0  # in one sample
    examples: tuple[str, ...] = field(default_factory=tuple)  # distinct, in the order first seen

    def add(self, found: Finding) -> Tally:
        fresh = [example for example in found.examples if example not in self.examples]
        return Tally(
            self.invariant, self.samples + 1, self.torn + int(found.torn),
            max(self.most_violations, found.violations), (*self.examples, *fresh)[:EXAMPLES],
        )


def tally(invariants: Sequence[Invariant], samples: Iterable[Sample]) -> tuple[Tally, ...]:
    """Per invariant: samples, torn samples, the first offending rows."""
    tallies: dict[str, Tally] = {invariant.name: Tally(invariant) for invariant in invariants}
    for sample in samples:
        for found in sample.findings:
            tallies[found.invariant] = tallies[found.invariant].add(found)
    return tuple(tallies.values())


def consistent(tallies: Sequence[Tally]) -> bool:
    """No torn sample of any invariant (and at least one sample of each)."""
    return all(entry.samples > 0 and entry.torn == 0 for entry in tallies)


def render(tallies: Sequence[Tally], seconds: float) -> str:
    header = f"{'invariant':<15} {'scope':<8} {'samples':>8} {'torn':>6} {'worst':>6}  result"
    lines = [header, "-" * len(header)]
    for entry in tallies:
        result = "OK" if entry.samples and not entry.torn else "TORN" if entry.torn else "NO SAMPLE"
        lines.append(f"{entry.invariant.name:<15} {entry.invariant.scope:<8} {entry.samples:>8} {entry.torn:>6} "
                     f"{entry.most_violations:>6}  {result}")
        lines.extend(f"    {example}" for example in entry.examples)
    lines.append(f"({seconds:.1f} s of sampling; worst: most violating rows in one sample)")
    lines.extend(f"  {entry.invariant.name}: {entry.invariant.statement}" for entry in tallies)
    return "\n".join(lines)


def as_json(tallies: Sequence[Tally], seconds: float) -> Mapping[str, Any]:
    return {
        "seconds": round(seconds, 3),
        "consistent": consistent(tallies),
        "invariants": {
            entry.invariant.name: {
                "scope": entry.invariant.scope, "samples": entry.samples, "torn": entry.torn,
                "most_violations": entry.most_violations, "examples": list(entry.examples),
            }
            for entry in tallies
        },
    }
