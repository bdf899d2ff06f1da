import logging
from pathlib import Path

import pytest

from connectors.settings import ConnectorSettings
from core.errors import ConfigError
from core.settings import (
    DatabaseUrl,
    HealthSettings,
    KafkaSettings,
    LogSettings,
    MySqlSettings,
    SourceSettings,
    integer,
    positive_number,
    text,
)

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


def test_another_database_keeps_the_server_and_the_account() -> None:
    other = MySqlSettings.from_env(STACK).on_database("bench_1")

    assert other.connect_kwargs() == {
        "host": "db", "port": 3307, "user": "app", "password": "p@ss", "database": "bench_1",
    }


def test_mysql_url_is_written_back_with_its_password_encoded() -> None:
    assert MySqlSettings.from_env(STACK).on_database("x").to_url() == "mysql://app:p%40ss@db:3307/x"


def test_mysql_url_without_password_has_none_and_an_explicit_port() -> None:
    assert MySqlSettings.from_env({"MYSQL_URL": "mysql://root@db/shop"}).to_url() == "mysql://root@db:3306/shop"


@pytest.mark.parametrize("password", ["s3cret", "p@ss:/w%rd?#", "Ab-_9"])
def test_database_url_reads_back_what_it_writes(password: str) -> None:
    url = DatabaseUrl(host="127.0.0.1", port=5433, user="postgres", database="shop", password=password)

    assert DatabaseUrl.parse(url.to_url("postgresql"), variable="PG_DSN", default_port=5432) == url


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


@pytest.mark.parametrize(("raw", "expected"), [(None, 7), ("", 7), (" 12 ", 12), ("3", 3)])
def test_an_integer_setting_takes_its_default_when_unset_or_blank(raw: str | None, expected: int) -> None:
    env = {} if raw is None else {"N": raw}
    assert integer(env, "N", 7, minimum=3) == expected


def test_an_integer_setting_below_its_minimum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="N must be at least 1, got 0"):
        integer({"N": "0"}, "N", 7, minimum=1)


@pytest.mark.parametrize(("raw", "message"), [("x", "must be a number, got 'x'"), ("0", "must be positive"),
                                              ("-1.5", "must be positive"), ("nan", "must be positive")])
def test_a_positive_number_refuses_what_is_not_one(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        positive_number({"X": raw}, "X", 1.0)


def test_a_positive_number_reads_fractions() -> None:
    assert positive_number({"X": "0.25"}, "X", 1.0) == 0.25 and positive_number({}, "X", 1.0) == 1.0


def test_a_text_setting_is_stripped_and_blank_means_default() -> None:
    assert (text({"T": " a "}, "T", "d"), text({"T": "  "}, "T", "d"), text({}, "T", "d")) == ("a", "d", "d")


def test_the_log_level_defaults_to_info_and_an_unknown_one_logs_at_info() -> None:
    assert LogSettings.from_env({}).level_number == logging.INFO
    assert LogSettings.from_env({"LOG_LEVEL": "debug"}).level_number == logging.DEBUG
    assert LogSettings.from_env({"LOG_LEVEL": "chatty"}).level_number == logging.INFO
    assert LogSettings.from_env({"LOG_LEVEL": "BASIC_FORMAT"}).level_number == logging.INFO


def test_topic_settings_are_shared_by_the_connector_and_the_workers() -> None:
    env = {**STACK, "TOPIC_PREFIX": "acme", "TOPIC_REPLICATION_FACTOR": "3"}
    connector, kafka = ConnectorSettings.from_env(env), KafkaSettings.from_env(env)

    assert (connector.topic_prefix, connector.topic_replication_factor) == (kafka.topic_prefix, kafka.replication_factor)
