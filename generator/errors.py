"""Errors of generator, under the root CdcError."""
from core.errors import CdcError


class GeneratorError(CdcError):
    """The data generator could not do its work."""
