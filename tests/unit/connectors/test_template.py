import json

from connectors.password_reference import PASSWORD_REFERENCE
from connectors.settings import ConnectorSettings
from connectors.template import render, template_text
from core.limits import MESSAGE_MAX_BYTES
from core.topics import KEPT_FOREVER

ENV = {
    "PG_DSN": "postgresql://postgres@127.0.0.1:5432/shop",
    "DEBEZIUM_PG_DSN": 'postgresql://dbz:pa%22ss@postgres:5432/shop',
    "CONNECT_URL": "http://connect:8083",
    "SLOT_NAME": "slot_a",
    "TOPIC_PREFIX": "acme",
}


def test_render_substitutes_hosts_user_and_names() -> None:
    name, config = render(ConnectorSettings.from_env(ENV))

    assert name == "shop-postgres"
    assert (config["database.hostname"], config["database.port"], config["database.dbname"]) == ("postgres", "5432", "shop")
    assert config["database.user"] == "dbz"
    assert (config["slot.name"], config["topic.prefix"]) == ("slot_a", "acme")


def test_rendered_password_is_the_config_provider_reference() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))

    assert config["database.password"] == PASSWORD_REFERENCE == "${env:DEBEZIUM_PG_PASSWORD}"


def test_the_dsns_password_is_never_rendered() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))

    assert 'pa"ss' not in json.dumps(config)


def test_the_template_holds_no_password_literal() -> None:
    config = json.loads(template_text())["config"]

    assert [key for key in config if "password" in key] == ["database.password"]
    assert config["database.password"] == "$" + PASSWORD_REFERENCE  # $$: string.Template's literal $


def test_rendered_config_leaves_no_placeholder_but_the_password_reference() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))

    assert [key for key, value in config.items() if "${" in value] == ["database.password"]


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


def test_the_connector_creates_the_transaction_and_schema_changes_topics_with_one_partition() -> None:
    _, config = render(ConnectorSettings.from_env({**ENV, "TOPIC_PARTITIONS": "4"}))

    groups = config["topic.creation.groups"].split(",")
    assert {group: (config[f"topic.creation.{group}.include"], config[f"topic.creation.{group}.partitions"])
            for group in groups} == {"transactions": (r"acme\.transaction", "1"),
                                     "schema_changes": (r"acme\.public\.cdc_schema_changes", "1")}
    assert config["topic.creation.default.partitions"] == "4"


def test_the_initial_snapshot_reads_the_tables_added_to_the_publication_after_the_shops() -> None:
    _, config = render(ConnectorSettings.from_env(ENV), ["coupons", "gift$cards"])

    assert config["snapshot.include.collection.list"].split(",")[-3:] == [
        "public.cdc_signals", "public\\.coupons", "public\\.gift\\$cards"]


def test_the_connector_creates_the_schema_changes_topic_to_be_kept_forever_as_the_pipeline_does() -> None:
    _, config = render(ConnectorSettings.from_env(ENV))
    assert {name: config[f"topic.creation.schema_changes.{name}"] for name in KEPT_FOREVER} == dict(KEPT_FOREVER)
