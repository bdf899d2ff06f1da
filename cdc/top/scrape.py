"""Reading one metrics endpoint: its samples, or why it could not be read."""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_SECONDS = 3.0

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str  # as exposed: a counter's with _total, a histogram's _bucket/_sum/_count
    labels: Labels  # sorted (name, value) pairs
    value: float

    def label(self, name: str) -> str:
        return dict(self.labels).get(name, "")


@dataclass(frozen=True)
class Scrape:
    """One endpoint at one moment: its samples, or the error that kept us from them."""

    endpoint: str
    url: str
    samples: tuple[Sample, ...] = ()
    error: str = ""

    @property
    def up(self) -> bool:
        return not self.error

    def named(self, name: str) -> list[Sample]:
        return [sample for sample in self.samples if sample.name == name]


def parse(text: str) -> tuple[Sample, ...]:
    """The samples of a Prometheus text exposition (ValueError when it is not one)."""
    return tuple(
        Sample(sample.name, tuple(sorted(sample.labels.items())), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )


def fetch(endpoint: str, url: str, timeout: float = SCRAPE_TIMEOUT_SECONDS) -> Scrape:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode("utf-8", errors="replace")
        return Scrape(endpoint, url, parse(body))
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return Scrape(endpoint, url, error=str(reason) or type(exc).__name__)


def fetch_all(urls: Mapping[str, str], timeout: float = SCRAPE_TIMEOUT_SECONDS) -> dict[str, Scrape]:
    """Every endpoint at about the same moment (in parallel: one that hangs delays the others by its timeout only)."""
    with ThreadPoolExecutor(max_workers=len(urls) or 1) as pool:
        futures = {endpoint: pool.submit(fetch, endpoint, url, timeout) for endpoint, url in urls.items()}
        return {endpoint: future.result() for endpoint, future in futures.items()}


@dataclass(frozen=True)
class Snapshot:
    """Every endpoint, scraped at `at` (monotonic seconds: only differences between snapshots mean something)."""

    at: float
    scrapes: Mapping[str, Scrape]


def take(urls: Mapping[str, str], clock: Callable[[], float] = time.monotonic,
         timeout: float = SCRAPE_TIMEOUT_SECONDS) -> Snapshot:
    at = clock()
    return Snapshot(at, fetch_all(urls, timeout))
