"""Render connectors/postgres-source.json with hosts, user and names from the settings.

The JSON file is the single source of truth for the connector, used by the
local stack, the tests and docker compose alike. Placeholders are
``${NAME}``; they are substituted inside string values only, so a value
with quotes cannot break the JSON. ``$$`` is a literal ``$``: the password
is the config provider reference ``$${env:...}``, which only the Kafka
Connect worker resolves (connectors/password_reference.py), so no password
is ever rendered.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from string import Template
from typing import Any

from connectors.settings import ConnectorSettings
from core.errors import ConfigError
from core.limits import MESSAGE_MAX_BYTES

TEMPLATE_FILE = "postgres-source.json"


def template_text() -> str:
    return (resources.files("connectors") / TEMPLATE_FILE).read_text(encoding="utf-8")


def substitutions(settings: ConnectorSettings, added_tables: Sequence[str] = ()) -> dict[str, str]:
    db = settings.database
    return {
        "CONNECTOR_NAME": settings.name,
        "PG_HOST": db.host,
        "PG_PORT": str(db.port),
        "PG_USER": db.user,
        "PG_DATABASE": db.database,
        "SLOT_NAME": settings.slot_name,
        "TOPIC_PREFIX": settings.topic_prefix,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
        "MESSAGE_MAX_BYTES": str(MESSAGE_MAX_BYTES),
        # Debezium reads the list's entries as regular expressions.
        "ADDED_TABLES": "".join(f",public\\.{re.escape(table)}" for table in added_tables),
    }


def _substitute(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        try:
            return Template(value).substitute(values)
        except KeyError as exc:
            raise ConfigError(f"{TEMPLATE_FILE}: unknown placeholder ${{{exc.args[0]}}}") from None
    if isinstance(value, dict):
        return {key: _substitute(item, values) for key, item in value.items()}
    return value


def render(settings: ConnectorSettings, added_tables: Sequence[str] = ()) -> tuple[str, dict[str, str]]:
    """The connector's name and its complete configuration. Its initial snapshot reads the shop's tables and
    `added_tables`, those added to the publication since (connectors.publication)."""
    document = _substitute(json.loads(template_text()), substitutions(settings, added_tables))
    return document["name"], document["config"]
