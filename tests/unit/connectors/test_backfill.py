"""connectors.backfill: which notifications are the backfill's, and the keys they name."""
from __future__ import annotations

from connectors.backfill import _integer_key, _signal_of


def test_a_notification_belongs_to_the_signal_its_key_names() -> None:
    assert _signal_of(b'{"id":"backfill-1"}') == "backfill-1"
    assert _signal_of(None) is None and _signal_of(b"not json") is None


def test_a_single_column_integer_key_is_read_with_or_without_brackets() -> None:
    assert _integer_key("3000") == 3000 and _integer_key("[1024]") == 1024 and _integer_key("-5") == -5


def test_other_keys_are_not_counted() -> None:
    assert _integer_key("[1, 2]") is None and _integer_key("abc") is None and _integer_key(None) is None
