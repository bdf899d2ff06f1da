"""The root exception and the errors of the shared core.

Each stage declares its own errors in its ``errors.py`` (consumer, marts,
generator, the local stack in ``cdc``), all under ``CdcError``, so the CLI can
catch one root and print a clear message for any failure a user can hit.
"""


class CdcError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(CdcError):
    """A setting is missing or malformed."""


class SchemaError(CdcError):
    """Applying the source schema failed."""


class ConnectorError(CdcError):
    """Kafka Connect is unreachable or the Debezium connector failed."""


class MySqlUnavailable(CdcError):
    """MySQL cannot be reached or cannot take the work now; nothing of it was committed (retry later)."""


class LeadershipLost(CdcError):
    """Another instance of the worker's stage holds the stage's lock now (core.leader): this one must stop."""


class RenumberedTransaction(CdcError):
    """Debezium numbered a source transaction's events anew after resuming inside it (dbz#633): its events from
    before the restart cannot be told apart from the rest, so the stage stops."""
