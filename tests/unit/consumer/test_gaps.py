"""Retention gaps: an assigned partition whose next change to read was already deleted by the broker.

The local broker (tansu 0.6) neither deletes records (DeleteRecords closes the connection) nor applies
retention, so no real gap can be made in an integration test: the detection is tested here."""
from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition

from consumer.errors import RetentionGapError
from consumer.gaps import Gap, check_assignment, find_gaps, gap_error
from tests.support.fake_consumer import FakeConsumer

ORDERS = "shop.public.orders"


def test_committed_offset_below_the_log_start_is_a_gap() -> None:
    assert find_gaps({(ORDERS, 1): 120}, {(ORDERS, 1): 5000}) == [Gap(ORDERS, 1, 120, 5000)]


def test_committed_offset_at_the_log_start_is_no_gap() -> None:
    assert find_gaps({(ORDERS, 1): 5000}, {(ORDERS, 1): 5000}) == []


def test_nothing_committed_on_a_partition_whose_log_starts_at_zero_is_no_gap() -> None:
    assert find_gaps({(ORDERS, 0): None}, {(ORDERS, 0): 0}) == []


def test_nothing_committed_on_a_partition_whose_log_starts_later_is_a_gap() -> None:
    assert find_gaps({}, {(ORDERS, 2): 7}) == [Gap(ORDERS, 2, None, 7)]


def test_only_the_partitions_with_a_gap_are_reported_in_partition_order() -> None:
    committed = {(ORDERS, 0): 10, (ORDERS, 1): 3, (ORDERS, 2): None}
    log_starts = {(ORDERS, 2): 4, (ORDERS, 1): 0, (ORDERS, 0): 11}

    assert find_gaps(committed, log_starts) == [Gap(ORDERS, 0, 10, 11), Gap(ORDERS, 2, None, 4)]


def test_the_error_names_partition_committed_offset_log_start_and_the_way_out() -> None:
    message = str(gap_error([Gap(ORDERS, 1, 120, 5000)], "cdc-replica"))

    assert "shop.public.orders[1]: committed offset 120, but the log starts at 5000" in message
    assert "offsets 120..4999 were deleted" in message
    assert "consumer group cdc-replica" in message
    for way_out in ("CONNECTOR_NAME", "SLOT_NAME", "TOPIC_PREFIX", "cdc connectors apply", "CONSUMER_GROUP",
                    "pg_drop_replication_slot"):
        assert way_out in message


def test_the_error_says_when_nothing_was_committed() -> None:
    message = str(gap_error([Gap(ORDERS, 2, None, 7)], "g"))

    assert "shop.public.orders[2]: nothing committed, but the log starts at 7 (offsets 0..6 were deleted)" in message


def test_an_assignment_with_a_gap_raises_retention_gap_error() -> None:
    consumer = FakeConsumer({(ORDERS, 0): 10, (ORDERS, 1): 3}, {(ORDERS, 0): 0, (ORDERS, 1): 5})

    with pytest.raises(RetentionGapError, match=r"shop\.public\.orders\[1\]: committed offset 3, but the log starts at 5"):
        check_assignment(consumer, [TopicPartition(ORDERS, 0), TopicPartition(ORDERS, 1)], "g")  # type: ignore[arg-type]


def test_an_assignment_of_a_fresh_group_on_logs_starting_at_zero_passes() -> None:
    consumer = FakeConsumer({}, {(ORDERS, 0): 0, (ORDERS, 1): 0})

    check_assignment(consumer, [TopicPartition(ORDERS, 0), TopicPartition(ORDERS, 1)], "g")  # type: ignore[arg-type]
