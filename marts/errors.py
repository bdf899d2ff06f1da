"""Errors of marts, under the root CdcError."""
from core.errors import CdcError


class MartsError(CdcError):
    """The marts worker failed."""


class StoreStopped(MartsError):
    """The worker stops while MySQL is unavailable: the batch is left uncommitted (it is read again)."""


class RejectedBatch(MartsError):
    """MySQL refused a value of the batch (too long, out of range, ...): the data's fault, not the server's."""


class TopicsRecreated(MartsError):
    """A source topic has a new id since the marts applied from it."""


class RetentionGapError(MartsError):
    """Events of a partition were deleted before the marts applied them."""
