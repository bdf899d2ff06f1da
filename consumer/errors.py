"""Errors of consumer, under the root CdcError."""
from core.errors import CdcError


class ConsumerError(CdcError):
    """The replication consumer hit a failure it cannot route to the dead-letter topic."""
