"""What a newcomer does: seed, run the live generator, and see change events for all five tables."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.cli import run_cdc
from tests.support.kafka import Message, TopicReader

pytestmark = pytest.mark.integration

# The operations a seed plus a few seconds of live traffic must produce per table.
EXPECTED_OPS = {
    "users": {"c", "u"},  # new users, renames
    "product_categories": {"c", "u"},  # seed, renames
    "products": {"c", "u"},  # new products, price changes, category moves
    "orders": {"c", "u", "d"},  # new orders, status changes, deletes
    "order_details": {"c", "u", "d"},  # new lines, quantity edits, deletes
}


def ops(events: list[Message]) -> set[str]:
    return {event.json_value["op"] for event in events if event.value is not None}


def has_ops(expected: set[str]) -> Callable[[list[Message]], bool]:
    return lambda events: expected <= ops(events)


def test_seed_and_live_run_produce_creates_updates_and_deletes_on_every_table_topic(
    stack_env: dict[str, str],
) -> None:
    tails = {table: TopicReader(stack_env["KAFKA_BOOTSTRAP"], [f"shop.public.{table}"], from_end=True)
             for table in EXPECTED_OPS}
    try:
        seed = run_cdc("generate", "seed", "--append", "--users", "50", "--categories", "6",
                       "--products", "40", "--orders", "200", "--seed", "3", env=stack_env)
        assert seed.returncode == 0, seed.stderr
        live = run_cdc("generate", "live", "--rate", "50", "--duration", "8", "--seed", "5", env=stack_env)
        assert live.returncode == 0, live.stderr
        seen = {table: ops(tail.collect(has_ops(EXPECTED_OPS[table]), timeout=60)) for table, tail in tails.items()}
    finally:
        for tail in tails.values():
            tail.close()

    assert {table: EXPECTED_OPS[table] <= found for table, found in seen.items()} == {table: True for table in EXPECTED_OPS}, seen
