"""Errors of marts, under the root CdcError."""
from core.errors import CdcError


class MartsError(CdcError):
    """The marts worker failed."""
