"""Counting torn samples per invariant and reporting them."""
from __future__ import annotations

from cdc.consistency.invariants import INVARIANTS, MARTS_BALANCE, ORDER_TOTALS, REFERENCES
from cdc.consistency.report import EXAMPLES, Finding, Sample, as_json, consistent, finding, render, tally


def clean(at: float) -> Sample:
    return Sample(at, tuple(Finding(invariant.name, 0) for invariant in INVARIANTS))


def torn_totals(at: float, *examples: str) -> Sample:
    return Sample(at, (Finding(ORDER_TOTALS.name, len(examples), examples), Finding(MARTS_BALANCE.name, 0),
                       Finding(REFERENCES.name, 0)))


def test_a_finding_counts_every_violating_row_and_describes_the_first_ones() -> None:
    rows = [(order_id, "3.00", "1.00") for order_id in range(1, 9)]

    found = finding(ORDER_TOTALS, ("order_id", "total_amount", "lines_total"), rows)

    assert (found.violations, found.examples) == (
        8, tuple(f"order_id={order_id}, total_amount=3.00, lines_total=1.00" for order_id in range(1, 1 + EXAMPLES)))


def test_a_query_without_rows_is_no_violation() -> None:
    assert finding(REFERENCES, ("row_id", "reference", "missing"), []) == Finding(REFERENCES.name, 0)


def test_tally_counts_samples_and_torn_samples_per_invariant() -> None:
    tallies = tally(INVARIANTS, [clean(0.0), torn_totals(0.2, "order_id=7"), clean(0.4), torn_totals(0.6, "order_id=9")])

    assert [(entry.invariant.name, entry.samples, entry.torn) for entry in tallies] == [
        ("order_totals", 4, 2), ("marts_balance", 4, 0), ("references", 4, 0)]


def test_tally_keeps_distinct_examples_in_the_order_first_seen() -> None:
    samples = [torn_totals(0.0, "order_id=7"), torn_totals(0.2, "order_id=7", "order_id=3")]

    assert tally(INVARIANTS, samples)[0].examples == ("order_id=7", "order_id=3")


def test_tally_keeps_at_most_a_few_examples() -> None:
    samples = [torn_totals(at, f"order_id={at}") for at in range(EXAMPLES + 3)]

    assert tally(INVARIANTS, samples)[0].examples == tuple(f"order_id={at}" for at in range(EXAMPLES))


def test_tally_keeps_the_most_violations_seen_in_one_sample() -> None:
    samples = [torn_totals(0.0, "a", "b", "c"), torn_totals(0.2, "d")]

    assert tally(INVARIANTS, samples)[0].most_violations == 3


def test_samples_without_a_torn_view_are_consistent() -> None:
    assert consistent(tally(INVARIANTS, [clean(0.0), clean(0.2)]))


def test_one_torn_sample_is_inconsistent() -> None:
    assert not consistent(tally(INVARIANTS, [clean(0.0), torn_totals(0.2, "order_id=1")]))


def test_an_invariant_never_sampled_is_not_consistent() -> None:
    assert not consistent(tally(INVARIANTS, []))


def test_the_report_shows_each_invariant_with_its_counts_and_offenders() -> None:
    text = render(tally(INVARIANTS, [clean(0.0), torn_totals(0.2, "order_id=7")]), 0.4)

    assert text.splitlines()[2:6] == [
        "order_totals    replica         2      1      1  TORN",
        "    order_id=7",
        "marts_balance   marts           2      0      0  OK",
        "references      replica         2      0      0  OK",
    ]


def test_the_json_report_has_per_invariant_counts() -> None:
    report = as_json(tally(INVARIANTS, [torn_totals(0.0, "order_id=7")]), 1.23456)

    assert (report["seconds"], report["consistent"], report["invariants"]["order_totals"]) == (
        1.235, False, {"scope": "replica", "samples": 1, "torn": 1, "most_violations": 1, "examples": ["order_id=7"]})
