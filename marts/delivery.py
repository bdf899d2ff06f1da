"""Faust's message delivery without its per-message task race: the marts' read rate doubles.

Faust's fetcher (faust.transport.consumer.Consumer._drain_messages) hands
every message to the conductor as

    await self.wait_first(callback(message), self.suspend_flow.wait())

which wraps the delivery, a wait on the flow's suspension and the service's
stopped and crashed events in four tasks and an asyncio.wait: measured on the
2-vCPU machine, a bare Faust agent read 3,700-4,200 messages/s that way and
8,900/s without it (aiokafka alone: 100,000/s). The race only matters when
the delivery blocks, and it blocks only (a) while the flow is suspended (a
rebalance), (b) when Faust's producer buffer is full, or (c) when the
agent's queue is full. Here (a) is checked before each delivery (a suspended
flow drops the message, as the race did: it is fetched again after the
rebalance), (b) cannot happen (the marts send nothing through Faust's
producer), and (c) is ruled out by the settings (STREAM_BUFFER_MAXSIZE, MAX_POLL_RECORDS): Faust
stops fetching a partition whose queue is past maxsize / 1.25, so the queue
holds at most that plus one fetch (max_poll_records), which stays below
maxsize.

The rest of the loop is Faust's own (faust-streaming 0.15.3, the pinned
version; tests/unit/marts/test_delivery.py fails when that function changes,
so an upgrade is reviewed here first).
"""
from __future__ import annotations

import asyncio
from typing import Any

from faust.transport import consumer as faust_consumer

# The faust.App settings under which a delivery never waits for the agent's queue: pressure at 16,000
# (maxsize / FlowControlQueue.pressure_high_ratio), and 16,000 + one fetch of 2,000 < 20,000.
MAX_POLL_RECORDS = 2000
STREAM_BUFFER_MAXSIZE = 20000


# Faust's own loop, kept for the test that notices when an upgrade changes it.
FAUST_DRAIN_MESSAGES = faust_consumer.Consumer._drain_messages


def install() -> None:
    """Replace Faust's fetch-and-deliver loop (idempotent)."""
    faust_consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover (runs inside a Faust worker)
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    flow_suspended = self.suspend_flow.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0

                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if flow_suspended():
                            continue  # Faust's race dropped it too: fetched again after the rebalance
                        await callback(message)
                        set_read_offset(tp, offset)
                unset_flag(flag_consumer_fetching)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)
