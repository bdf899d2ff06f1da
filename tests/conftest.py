"""The shared fixtures live in tests/support/; these are the modules that define them."""
from __future__ import annotations

pytest_plugins = [
    "tests.support.stack",
    "tests.support.replica",
    "tests.support.scratch_source",
    "tests.support.monitoring",
]
