from __future__ import annotations

from cdc.top.settings import TopSettings


def test_without_variables_top_reads_the_urls_compose_publishes() -> None:
    assert TopSettings.from_env({}).urls == {
        "consumer": "http://127.0.0.1:9108/metrics",
        "marts": "http://127.0.0.1:9109/metrics",
        "exporter": "http://127.0.0.1:9110/metrics",
    }


def test_the_stack_env_variables_name_the_urls() -> None:
    env = {"CONSUMER_METRICS_URL": "http://127.0.0.1:1/metrics", "MARTS_METRICS_URL": "http://127.0.0.1:2/metrics",
           "EXPORTER_METRICS_URL": "http://127.0.0.1:3/metrics"}

    assert list(TopSettings.from_env(env).urls.values()) == list(env.values())
