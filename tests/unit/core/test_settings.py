from pathlib import Path

import pytest

from core.errors import ConfigError
from connectors.settings import ConnectorSettings
from core.settings import HealthSettings, KafkaSettings, MySqlSettings, SourceSettings

STACK = {
    "PG_DSN": "postgresql://postgres@127.0.0.1:5432/shop",
    "MYSQL_URL": "mysql://app:p%40ss@db:3307/shop",
    "KAFKA_BOOTSTRAP": "127.0.0.1:9092",
    "CONNECT_URL": "http://127.0.0.1:8083/",
}


def test_missing_variable_names_the_variable_and_how_to_load_a_stack() -> None:
    with pytest.raises(ConfigError, match=r"PG_DSN is not set .*stack.env"):
        SourceSettings.from_env({})


def test_mysql_url_is_split_into_connection_arguments_with_decoded_password() -> None:
    settings = MySqlSettings.from_env(STACK)

    assert settings.connect_kwargs() == {
        "host": "db", "port": 3307, "user": "app", "password": "p@ss", "database": "shop",
    }


def test_secrets_never_appear_in_repr() -> None:
    assert "p@ss" not in repr(MySqlSettings.from_env(STACK))
    assert "postgres@" not in repr(SourceSettings.from_env(STACK))


def test_connector_defaults() -> None:
    settings = ConnectorSettings.from_env(STACK)

    assert (settings.connect_url, settings.name, settings.topic_prefix, settings.slot_name) == (
        "http://127.0.0.1:8083", "shop-postgres", "shop", "cdc_shop",
    )
    assert (settings.topic_partitions, settings.topic_replication_factor) == (4, 1)


def test_debezium_dsn_overrides_how_connect_reaches_the_source() -> None:
    settings = ConnectorSettings.from_env({**STACK, "DEBEZIUM_PG_DSN": "postgresql://dbz:s3cret@pg:5433/shop"})

    assert (settings.database.host, settings.database.port, settings.database.user) == ("pg", 5433, "dbz")
    assert settings.database.password == "s3cret"
    assert "s3cret" not in repr(settings)


def test_non_integer_partitions_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TOPIC_PARTITIONS must be an integer, got 'four'"):
        ConnectorSettings.from_env({**STACK, "TOPIC_PARTITIONS": "four"})


def test_malformed_database_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MYSQL_URL must look like"):
        MySqlSettings.from_env({"MYSQL_URL": "localhost"})


def test_table_topic_follows_debezium_naming() -> None:
    assert KafkaSettings.from_env({**STACK, "TOPIC_PREFIX": "acme"}).table_topic("orders") == "acme.public.orders"


def test_kafka_replication_factor_follows_topic_replication_factor() -> None:
    assert KafkaSettings.from_env({**STACK, "TOPIC_REPLICATION_FACTOR": "3"}).replication_factor == 3


def test_kafka_replication_factor_defaults_to_one() -> None:
    assert KafkaSettings.from_env(STACK).replication_factor == 1


def test_each_worker_has_its_own_heartbeat_file_variable() -> None:
    env = {"CONSUMER_HEALTH_FILE": "/run/c.json", "MARTS_HEALTH_FILE": "/run/m.json"}

    assert HealthSettings.from_env("consumer", env).file == Path("/run/c.json")
    assert HealthSettings.from_env("marts", env).file == Path("/run/m.json")


def test_the_default_heartbeat_file_is_named_per_worker_in_the_temp_folder(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    assert HealthSettings.from_env("marts", {}).file == tmp_path / "cdc-marts-health.json"
