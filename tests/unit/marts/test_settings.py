"""MartsSettings from an environment mapping."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from marts.schema import all_ddl
from marts.settings import MartsSettings

BASE = {"KAFKA_BOOTSTRAP": "127.0.0.1:9092", "MYSQL_URL": "mysql://root@127.0.0.1:3306/shop"}


def test_defaults() -> None:
    settings = MartsSettings.from_env(BASE)
    assert settings.app_id == "cdc-marts" and settings.batch_size == 2000 and settings.partitions == 4
    assert settings.data_dir.name == "cdc-marts"


def test_values_from_the_environment() -> None:
    settings = MartsSettings.from_env({**BASE, "MARTS_APP_ID": "m2", "MARTS_BATCH_SIZE": "50",
                                       "MARTS_DATA_DIR": "/tmp/x", "TOPIC_PARTITIONS": "8"})
    assert (settings.app_id, settings.batch_size) == ("m2", 50)
    assert (settings.data_dir, settings.partitions) == (Path("/tmp/x"), 8)


@pytest.mark.parametrize("env", [{"MARTS_BATCH_SIZE": "many"}, {"MARTS_BATCH_SIZE": "0"},
                                 {"MARTS_SESSION_TIMEOUT": "-1"}])
def test_bad_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        MartsSettings.from_env({**BASE, **env})


def test_ddl_uses_exact_decimals() -> None:
    ddl = "\n".join(all_ddl())
    assert "DECIMAL(20,2)" in ddl and "FLOAT" not in ddl and "DOUBLE" not in ddl


def test_fetch_wait_is_short_by_default_and_settable() -> None:
    assert MartsSettings.from_env(BASE).fetch_wait_ms == 100
    assert MartsSettings.from_env({**BASE, "MARTS_FETCH_WAIT_MS": "250"}).fetch_wait_ms == 250


def test_dead_letters_go_to_a_marts_topic_under_the_topic_prefix() -> None:
    assert MartsSettings.from_env(BASE).deadletter_topic == "shop.marts.deadletter"
    assert MartsSettings.from_env({**BASE, "TOPIC_PREFIX": "t"}).deadletter_topic == "t.marts.deadletter"


def test_the_marts_dead_letter_topic_is_settable() -> None:
    assert MartsSettings.from_env({**BASE, "MARTS_DEADLETTER_TOPIC": "dlq"}).deadletter_topic == "dlq"


def test_kafka_and_mysql_are_the_settings_the_consumer_reads_too() -> None:
    from consumer.settings import ConsumerSettings

    marts, consumer = MartsSettings.from_env(BASE), ConsumerSettings.from_env(BASE)
    assert (marts.kafka, marts.mysql) == (consumer.kafka, consumer.mysql)


def test_log_level_is_read_with_the_settings() -> None:
    assert MartsSettings.from_env(BASE).log.level == "INFO"
    assert MartsSettings.from_env({**BASE, "LOG_LEVEL": "debug"}).log.level == "DEBUG"


def test_topic_partitions_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="TOPIC_PARTITIONS must be at least 1, got 0"):
        MartsSettings.from_env({**BASE, "TOPIC_PARTITIONS": "0"})


def test_the_metrics_endpoint_is_off_and_on_loopback_by_default() -> None:
    settings = MartsSettings.from_env(BASE)
    assert (settings.metrics_port, settings.metrics_host) == (0, "127.0.0.1")


def test_the_metrics_port_and_host_come_from_the_environment() -> None:
    settings = MartsSettings.from_env({**BASE, "MARTS_METRICS_PORT": "9109", "MARTS_METRICS_HOST": "0.0.0.0"})
    assert (settings.metrics_port, settings.metrics_host) == (9109, "0.0.0.0")
