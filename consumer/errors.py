"""Errors of consumer, under the root CdcError."""
from core.errors import CdcError


class ConsumerError(CdcError):
    """The replication consumer hit a failure it cannot route to the dead-letter topic."""


class TopicsRecreated(ConsumerError):
    """A source topic has a new id since the replica applied from it."""


class RetentionGapError(ConsumerError):
    """Changes the consumer has not applied yet were deleted by the broker (retention)."""


class WatermarkAhead(ConsumerError):
    """The replica's watermark is already at or past a batch's first transaction: another consumer applied it."""
