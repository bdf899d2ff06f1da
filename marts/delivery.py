"""Faust's fetch loop, handing the marts' agent one chunk per fetch instead of one event per message.

Faust's fetcher (faust.transport.consumer.Consumer._drain_messages) hands
every message on its own to the conductor, which makes it an event in the
agent's queue, which the agent's stream takes, tracks and acks: measured on
the 2-vCPU machine, a bare Faust agent read 3,700-4,200 messages/s that way
and aiokafka alone 96,000/s. The marts need none of it per message: one
agent reads all their topics, and where reading resumes comes from the
positions stored in MySQL (marts.transport), not from Faust's acks. So this
loop puts each fetch (up to the app's broker_max_poll_records messages, in
Faust's fetch order) on an in-memory channel as one Fetched, and the agent
iterates that channel (marts.app): Faust still runs the group, the
assignment, the seeks, the fetching and the agent; only the per-message
routing is gone.

Rebalances. A fetch is put only while the flow is active, and the agent
drops a Fetched whose consumer generation is not the current one (Faust's
own test for its events). Faust suspends the flow and clears the channel's
queue when partitions are revoked, and clears it again when the flow
resumes; a fetch waiting for room in the queue then is dropped too (the
clear cancels its put: hand_over). What is dropped is read again: after the
rebalance every partition is sought to the position stored in MySQL, which
is never past what the agent took (core.transactions ignores what it
already holds).

Acks. The agent acks a fetch's messages once it is done with the fetch:
what it released is applied, and what the assembler still holds (part of a
source transaction) is acked too, as Faust's stream did for the events it
handed over. So the offsets Faust commits to Kafka may run ahead of MySQL:
they are a progress report for tools only (marts.transport). The agent also
tells Faust's monitor when it takes a partition's events (note_taken), as
the stream did, for Faust's check for stalled streams.

The rest of the loop is Faust's own (faust-streaming 0.15.3, the pinned
version; tests/unit/marts/test_delivery.py fails when that function changes,
so an upgrade is reviewed here first).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust
from faust.transport import consumer as faust_consumer

# Fetches waiting for the agent at most: the fetcher waits while that many are queued.
FETCHES_WAITING = 4

# Faust's own loop, kept for the test that notices when an upgrade changes it.
FAUST_DRAIN_MESSAGES = faust_consumer.Consumer._drain_messages


@dataclass(frozen=True)
class Fetched:
    """One fetch's messages (faust.types.tuples.Message), in Faust's fetch order, and the consumer generation
    (rebalance) they were read in."""

    messages: list[Any]
    generation: int


def fetches_channel(app: faust.App) -> faust.ChannelT:
    """The channel the marts' loop puts each fetch on (the agent iterates it); installs the loop (idempotent)."""
    channel = app.channel(maxsize=FETCHES_WAITING)
    app.marts_fetches = channel  # type: ignore[attr-defined]
    faust_consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    return channel


def is_current(app: faust.App, fetched: Fetched) -> bool:
    """False for a fetch from before a rebalance, or during one: its messages are read again after it."""
    return app.flow_control.is_active() and fetched.generation == app.consumer_generation_id


def note_taken(app: faust.App, fetched: Fetched) -> None:
    """Tell Faust's monitor that the agent is taking events of these partitions (its stream did, per event):
    Faust's check for stalled streams would otherwise log an error for every partition with a backlog."""
    now = time.monotonic()
    inbound = app.monitor.stream_inbound_time
    for message in fetched.messages:
        inbound[message.tp] = now


def acknowledge(consumer: Any, messages: Iterable[Any]) -> None:
    """Mark messages the agent is done with for Faust's commits of Kafka offsets."""
    ack = consumer.ack
    for message in messages:
        ack(message)


async def hand_over(fetches: faust.ChannelT, fetched: Fetched, flow_suspended: Callable[[], bool]) -> bool:
    """Put a fetch on the agent's channel, waiting while its queue is full; False when it is dropped: the flow
    is suspended (a rebalance), or Faust clears the queue while the fetch waits for room (its clear() cancels
    the waiting put). Either way a rebalance is under way, whose seeks read the fetch again."""
    while fetches.subscriber_count == 0:  # the agent's stream is not iterating yet
        await asyncio.sleep(0.01)
    if flow_suspended():
        return False
    try:
        await fetches.put(fetched)  # type: ignore[arg-type]  # typed for events; an in-memory channel takes any value
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the fetcher itself is cancelled (the worker stops)
        return False
    return True


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover (runs inside a Faust worker)
    fetches = self.app.marts_fetches
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

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            messages = []
            if not self.should_stop:
                async for tp, message in ait:
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        messages.append(message)
                        set_read_offset(tp, offset)
                unset_flag(flag_consumer_fetching)
            if commit_every is not None and self._n_acked >= commit_every:
                self._n_acked = 0
                await self.commit()
            if messages:
                # One getmany's messages share one generation: it stops at a change.
                await hand_over(fetches, Fetched(messages, messages[0].generation_id), flow_suspended)
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
