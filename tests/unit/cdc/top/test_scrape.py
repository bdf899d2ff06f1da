"""Reading a metrics endpoint: its samples, or the reason it could not be read."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from cdc.top.scrape import Sample, fetch, fetch_all, parse
from tests.support.ports import free_port


@pytest.fixture
def endpoint() -> Iterator[str]:
    registry = CollectorRegistry()
    Gauge("cdc_paused", "paused", ["stage"], registry=registry).labels("replica").set(1)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    thread.join()


def test_parse_gives_each_sample_with_its_full_name_and_sorted_labels() -> None:
    text = '# TYPE cdc_batches_total counter\ncdc_batches_total{stage="marts",a="b"} 4.0\ncdc_replica_lag_seconds NaN\n'

    samples = parse(text)

    assert samples[0] == Sample("cdc_batches_total", (("a", "b"), ("stage", "marts")), 4.0)
    assert samples[1].name == "cdc_replica_lag_seconds" and samples[1].value != samples[1].value  # NaN


def test_fetch_reads_a_live_endpoint(endpoint: str) -> None:
    scrape = fetch("consumer", endpoint)

    assert scrape.up
    assert scrape.named("cdc_paused") == [Sample("cdc_paused", (("stage", "replica"),), 1.0)]


def test_fetch_of_a_closed_port_is_an_error_not_an_exception() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"

    scrape = fetch("marts", url)

    assert (scrape.up, scrape.samples) == (False, ())
    assert "Connection refused" in scrape.error


def test_fetch_of_a_page_that_is_not_an_exposition_is_an_error() -> None:
    scrape = fetch("exporter", "data:text/plain,this is not { a metric")

    assert not scrape.up


def test_fetch_all_reads_every_endpoint_under_its_name(endpoint: str) -> None:
    scrapes = fetch_all({"consumer": endpoint, "marts": f"http://127.0.0.1:{free_port()}/metrics"})

    assert {name: scrape.up for name, scrape in scrapes.items()} == {"consumer": True, "marts": False}
