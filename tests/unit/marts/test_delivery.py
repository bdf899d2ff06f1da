import asyncio
import hashlib
import inspect
from types import SimpleNamespace
from typing import Any

import faust
import pytest
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
        assert app.marts_fetches is channel  # type: ignore[attr-defined]  # set on the app by fetches_channel
        assert channel.maxsize == delivery.FETCHES_WAITING
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


def running_channel(maxsize: int) -> tuple[faust.App, Any, Any]:
    """An app whose flow is active, a channel of `maxsize` and the queue of its one iterating subscriber."""
    app = faust.App("delivery-unit-test", broker="kafka://localhost:1", store="memory://")
    app.flow_control.resume()
    channel = app.channel(maxsize=maxsize)
    subscriber = channel.clone(is_iterator=True)
    return app, channel, subscriber.queue


async def a_fetch_waiting_for_room() -> tuple[Any, asyncio.Future[bool]]:
    """The agent's queue (of one) full, and a hand_over waiting for room in it."""
    _, channel, queue = running_channel(maxsize=1)
    await delivery.hand_over(channel, delivery.Fetched([1], 0), lambda: False)
    waiting = asyncio.ensure_future(delivery.hand_over(channel, delivery.Fetched([2], 0), lambda: False))
    await asyncio.sleep(0.01)
    return queue, waiting


def test_a_handed_over_fetch_is_on_the_agents_queue() -> None:
    async def scenario() -> None:
        _, channel, queue = running_channel(maxsize=1)
        fetched = delivery.Fetched([1], 0)

        assert await delivery.hand_over(channel, fetched, lambda: False)
        assert queue.get_nowait() is fetched

    asyncio.run(scenario())


def test_a_fetch_is_dropped_while_the_flow_is_suspended() -> None:
    async def scenario() -> None:
        _, channel, queue = running_channel(maxsize=1)

        assert not await delivery.hand_over(channel, delivery.Fetched([1], 0), lambda: True)
        assert queue.empty()

    asyncio.run(scenario())


def test_a_fetch_waiting_for_room_is_dropped_when_faust_clears_the_queue() -> None:
    async def scenario() -> None:
        queue, waiting = await a_fetch_waiting_for_room()

        queue.clear()  # what a rebalance does (flow_control.clear)

        assert await waiting is False
        assert queue.empty()

    asyncio.run(scenario())


def test_a_fetcher_cancelled_while_waiting_for_room_stays_cancelled() -> None:
    async def scenario() -> None:
        _, waiting = await a_fetch_waiting_for_room()

        waiting.cancel()

        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())


def test_taking_a_fetch_tells_faust_its_partitions_are_being_processed() -> None:
    app = faust.App("delivery-unit-test", broker="kafka://localhost:1", store="memory://")
    messages = [SimpleNamespace(tp=("orders", 0)), SimpleNamespace(tp=("orders", 2))]

    delivery.note_taken(app, delivery.Fetched(messages, 0))

    assert set(app.monitor.stream_inbound_time) == {("orders", 0), ("orders", 2)}
