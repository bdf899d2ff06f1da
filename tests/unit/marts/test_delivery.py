import hashlib
import inspect
from types import SimpleNamespace
from typing import Any

import faust
from faust.transport import consumer as faust_consumer

from marts import delivery

# sha256 of faust-streaming 0.15.3's Consumer._drain_messages, which marts.delivery restates with one chunk per
# fetch: a new Faust release that changes it must be reviewed there first.
FAUST_0_15_3_DRAIN_MESSAGES = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def app_state(active: bool, generation: int) -> Any:
    return SimpleNamespace(flow_control=SimpleNamespace(is_active=lambda: active), consumer_generation_id=generation)


def test_the_replaced_faust_loop_is_the_one_it_was_written_from() -> None:
    source = inspect.getsource(delivery.FAUST_DRAIN_MESSAGES)

    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_0_15_3_DRAIN_MESSAGES


def test_the_fetches_channel_installs_the_marts_loop_and_is_the_one_it_reads() -> None:
    original = faust_consumer.Consumer._drain_messages
    app = faust.App("delivery-unit-test", broker="kafka://localhost:1", store="memory://")
    try:
        channel = delivery.fetches_channel(app)

        assert faust_consumer.Consumer._drain_messages is delivery._drain_messages
        assert app.marts_fetches is channel and channel.maxsize == delivery.FETCHES_WAITING
    finally:
        faust_consumer.Consumer._drain_messages = original  # type: ignore[method-assign]


def test_a_fetch_of_the_current_generation_is_current() -> None:
    assert delivery.is_current(app_state(active=True, generation=3), delivery.Fetched([], 3))


def test_a_fetch_from_before_a_rebalance_is_not_current() -> None:
    assert not delivery.is_current(app_state(active=True, generation=4), delivery.Fetched([], 3))


def test_a_fetch_taken_while_the_flow_is_suspended_is_not_current() -> None:
    assert not delivery.is_current(app_state(active=False, generation=3), delivery.Fetched([], 3))


def test_acknowledging_acks_every_message_in_order() -> None:
    acked: list[int] = []
    consumer = SimpleNamespace(ack=acked.append)

    delivery.acknowledge(consumer, [5, 6, 7])

    assert acked == [5, 6, 7]
