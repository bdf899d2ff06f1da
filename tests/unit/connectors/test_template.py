import json

from connectors.settings import ConnectorSettings
from connectors.template import render, template_text
from core.limits import MESSAGE_MAX_BYTES

ENV = {
    "PG_DSN": "postgresql://postgres@127.0.0.1:5432/shop",
    "DEBEZIUM_PG_DSN": 'postgresql://dbz:pa%22ss@postgres:5432/shop',
    "CONNECT_URL": "http://connect:8083",
    "SLOT_NAME": "slot_a",
    "TOPIC_PREFIX": "acme",
}


def test_render_substitutes_hosts_credentials_and_names() -> None:
    name, config = render(ConnectorSettings.from_env(ENV))

    assert name == "shop-postgres"
    assert (config["database.hostname"], config["database.port"], config["database.dbname"]) == ("postgres", "5432", "shop")
    assert (config["database.user"], config["database.password"]) == ("dbz", 'pa"ss')
    assert (config["slot.name"], config["topic.prefix"]) == ("slot_a", "acme")


def test_rendered_config_leaves_no_placeholder() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))

    assert not [key for key, value in config.items() if "${" in value]


def test_template_keeps_decimals_exact_and_streams_truncates() -> None:
    config = json.loads(template_text())["config"]

    assert config["decimal.handling.mode"] == "string"
    assert config["skipped.operations"] == "none"
    assert config["plugin.name"] == "pgoutput"
    assert config["publication.autocreate.mode"] == "disabled"


def test_every_config_value_is_a_string() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))

    assert all(isinstance(value, str) for value in config.values())


def test_connector_producer_and_created_topics_take_the_largest_message() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))

    assert config["producer.override.max.request.size"] == str(MESSAGE_MAX_BYTES)
    assert config["topic.creation.default.max.message.bytes"] == str(MESSAGE_MAX_BYTES)
