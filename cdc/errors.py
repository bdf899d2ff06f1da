"""Errors of the application layer (the CLI and the local stack), under the root CdcError."""
from core.errors import CdcError


class LocalStackError(CdcError):
    """A process of the local stack could not be started, checked or stopped."""


class ConsistencyCheckError(CdcError):
    """`cdc verify --consistency` could not read a snapshot (MySQL down, a table missing)."""
