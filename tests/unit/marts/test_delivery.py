import hashlib
import inspect

from faust.transport import consumer as faust_consumer
from mode.utils.queues import FlowControlQueue

from marts import delivery

# sha256 of faust-streaming 0.15.3's Consumer._drain_messages, which marts.delivery restates without the
# per-message race: a new Faust release that changes it must be reviewed there first.
FAUST_0_15_3_DRAIN_MESSAGES = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"


def test_the_replaced_faust_loop_is_the_one_it_was_written_from() -> None:
    source = inspect.getsource(delivery.FAUST_DRAIN_MESSAGES)

    assert hashlib.sha256(source.encode()).hexdigest() == FAUST_0_15_3_DRAIN_MESSAGES


def test_the_agent_queue_can_take_a_whole_fetch_past_its_pressure_mark() -> None:
    pressure_mark = delivery.STREAM_BUFFER_MAXSIZE / FlowControlQueue.pressure_high_ratio

    assert pressure_mark + delivery.MAX_POLL_RECORDS < delivery.STREAM_BUFFER_MAXSIZE


def test_installing_twice_leaves_the_marts_loop_in_place() -> None:
    original = faust_consumer.Consumer._drain_messages
    try:
        delivery.install()
        delivery.install()

        assert faust_consumer.Consumer._drain_messages is delivery._drain_messages
    finally:
        faust_consumer.Consumer._drain_messages = original  # type: ignore[method-assign]
