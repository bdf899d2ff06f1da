"""Waiting for the marts to equal their definitions over the source."""
from __future__ import annotations

import time

import pytest

from core.settings import MySqlSettings, SourceSettings
from core.verify import TableReport, render
from marts.verify import mart_reports

CONVERGE_TIMEOUT = 120.0


def converged(env: dict[str, str], timeout: float = CONVERGE_TIMEOUT) -> list[TableReport]:
    """Until both marts (MYSQL_URL) equal their definitions over the whole source (PG_DSN); the test fails otherwise."""
    source, mysql = SourceSettings.from_env(env), MySqlSettings.from_env(env)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reports = mart_reports(source, mysql)
        except Exception:  # the worker may not have created the tables yet
            if time.monotonic() > deadline:
                raise
            reports = []
        if reports and all(report.matches for report in reports):
            return reports
        if time.monotonic() > deadline:
            pytest.fail("the marts did not converge:\n" + render(reports))
        time.sleep(1.0)
