"""ConsumerSettings from a plain dict."""
from __future__ import annotations

import pytest
from confluent_kafka import Consumer

from consumer.settings import ConsumerSettings
from core.errors import ConfigError
from core.limits import MESSAGE_MAX_BYTES

BASE = {"KAFKA_BOOTSTRAP": "127.0.0.1:9092", "MYSQL_URL": "mysql://root@127.0.0.1:3306/shop"}


def test_defaults() -> None:
    settings = ConsumerSettings.from_env(BASE)
    assert (settings.group_id, settings.batch_size, settings.flush_interval) == ("cdc-replica", 5000, 0.15)
    assert settings.deadletter_topic == "shop.deadletter"
    assert "shop.public.orders" in settings.topics() and "shop.public.cdc_heartbeat" not in settings.topics()
    config = settings.kafka_config()
    assert config["enable.auto.commit"] is False and config["auto.offset.reset"] == "earliest"
    assert (config["session.timeout.ms"], config["heartbeat.interval.ms"]) == (6000, 1000)


def test_overrides() -> None:
    settings = ConsumerSettings.from_env({**BASE, "CONSUMER_GROUP": "g", "CONSUMER_BATCH_SIZE": "10",
                                          "CONSUMER_FLUSH_MS": "50", "TOPIC_PREFIX": "t", "DEADLETTER_TOPIC": ""})
    assert (settings.group_id, settings.batch_size, settings.flush_interval) == ("g", 10, 0.05)
    assert settings.deadletter_topic == "t.deadletter"
    assert ConsumerSettings.from_env({**BASE, "DEADLETTER_TOPIC": "dlq"}).deadletter_topic == "dlq"


def test_metrics_listen_on_loopback_unless_told_otherwise() -> None:
    assert ConsumerSettings.from_env(BASE).metrics_host == "127.0.0.1"
    assert ConsumerSettings.from_env({**BASE, "METRICS_HOST": "0.0.0.0"}).metrics_host == "0.0.0.0"


def test_bad_numbers_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="CONSUMER_BATCH_SIZE must be an integer"):
        ConsumerSettings.from_env({**BASE, "CONSUMER_BATCH_SIZE": "many"})
    with pytest.raises(ConfigError, match="at least"):
        ConsumerSettings.from_env({**BASE, "CONSUMER_BATCH_SIZE": "0"})


def test_consumer_fetches_the_pipelines_largest_message() -> None:
    config = ConsumerSettings.from_env(BASE).kafka_config()

    assert config["max.partition.fetch.bytes"] == MESSAGE_MAX_BYTES
    assert isinstance(config["fetch.max.bytes"], int) and config["fetch.max.bytes"] >= MESSAGE_MAX_BYTES


def test_librdkafka_accepts_the_consumers_fetch_limits() -> None:
    Consumer(ConsumerSettings.from_env(BASE).kafka_config()).close()  # raises KafkaException on a bad combination
