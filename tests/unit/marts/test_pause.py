"""marts.pause: the line that says why the marts pause and the way out; a rebuild drops the stored pause."""
from __future__ import annotations

from marts.pause import Pause
from marts.schema import PAUSE, all_tables

PAUSED = Pause("order_details", "quantity", "order_details.quantity renamed to qty", 41, 9, 800,
               "ALTER TABLE order_details\n  RENAME COLUMN quantity TO qty")


def test_the_message_names_the_change_the_column_the_transaction_and_the_way_out() -> None:
    assert PAUSED.message().startswith(
        "marts paused at source schema change 41 (ALTER TABLE order_details RENAME COLUMN quantity TO qty), "
        "source transaction 9 (commit lsn 800): order_details.quantity renamed to qty; the marts stay as of the "
        "source transaction before it; the way out (README, When the marts pause): ")
    assert "`cdc marts --rebuild`" in PAUSED.message()


def test_a_rebuild_drops_the_stored_pause_with_the_marts() -> None:
    assert PAUSE in all_tables()
