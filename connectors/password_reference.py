"""The connector's database password: a Kafka Connect config provider reference, never the value.

postgres-source.json sets ``database.password`` to ``${env:DEBEZIUM_PG_PASSWORD}``. The Connect worker
resolves it from its own environment whenever it starts the connector, so neither the config stored in
Connect's config topic nor what its REST API returns holds the password, and `cdc connectors apply`
never needs it.

Why EnvVarConfigProvider (Kafka >= 3.5) and not FileConfigProvider: both stacks already hand the worker
its environment (compose: the connect service's `environment`, from .env; the local stack: the process
it spawns), so there is nothing to write, mount or clean up, and `docker compose up` needs no extra
step. A secrets file must exist before Connect starts (one more init service in compose, one more file
to protect in the local stack) for no gain: whoever can read the worker's environment (its own user,
root, `docker inspect`) can read that file too.

The allowlist confines the provider to this one variable: otherwise any connector config could
reference any variable of the worker's environment.
"""
from __future__ import annotations

from collections.abc import Mapping

PROVIDER = "env"
PROVIDER_CLASS = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
PASSWORD_VARIABLE = "DEBEZIUM_PG_PASSWORD"  # in the Connect worker's environment
PASSWORD_REFERENCE = f"${{{PROVIDER}:{PASSWORD_VARIABLE}}}"

UNRESOLVED_HINT = (
    f"hint: the connector's database.password is the reference {PASSWORD_REFERENCE}, resolved by the "
    f"Kafka Connect worker from its own environment; unresolved, it reaches PostgreSQL as that literal text. "
    f"The worker needs config.providers={PROVIDER} with config.providers.{PROVIDER}.class={PROVIDER_CLASS} "
    f"(allowlist.pattern ^{PASSWORD_VARIABLE}$) and {PASSWORD_VARIABLE} set to the password of the "
    f"connector's database user (docker compose: the connect service, from DEBEZIUM_DB_PASSWORD in .env; "
    f"`cdc local up` sets both), then a restart."
)


def worker_properties() -> dict[str, str]:
    """The Connect worker settings that resolve PASSWORD_REFERENCE."""
    return {
        "config.providers": PROVIDER,
        f"config.providers.{PROVIDER}.class": PROVIDER_CLASS,
        f"config.providers.{PROVIDER}.param.allowlist.pattern": f"^{PASSWORD_VARIABLE}$",
    }


def worker_environment(password: str, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with the password the worker resolves PASSWORD_REFERENCE to."""
    return {**base, PASSWORD_VARIABLE: password}


def unresolved_password_hint(message: str, config: Mapping[str, str]) -> str | None:
    """UNRESOLVED_HINT when Kafka Connect's error `message` is about the password and `config` passes
    it as the reference (the usual cause: the worker cannot resolve it); else None."""
    if "password" in message.lower() and PASSWORD_REFERENCE in config.values():
        return UNRESOLVED_HINT
    return None
