"""One root exception, one subclass per stage a user can see fail."""


class CdcError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(CdcError):
    """A setting is missing or malformed."""


class SchemaError(CdcError):
    """Applying the source schema failed."""


class GeneratorError(CdcError):
    """The data generator could not do its work."""


class ConnectorError(CdcError):
    """Kafka Connect is unreachable or the Debezium connector failed."""


class LocalStackError(CdcError):
    """A process of the local stack could not be started, checked or stopped."""


class ConsumerError(CdcError):
    """The replication consumer hit a failure it cannot route to the dead-letter topic."""


class MartsError(CdcError):
    """The marts worker failed."""
