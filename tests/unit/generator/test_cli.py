"""`cdc generate`: its options and their checks (its stop on SIGINT/SIGTERM: core.signals, test_signals)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.errors import ConfigError
from generator.cli import generate


def test_seed_help_explains_what_append_does() -> None:
    result = CliRunner().invoke(generate, ["seed", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "new rows get ids after the highest existing ones" in text
    assert "seeding a non-empty database is refused" in text
    for option in ("--users", "--categories", "--products", "--orders", "--seed"):
        assert option in text


@pytest.mark.parametrize("args", [["seed", "--users", "-1"], ["live", "--rate", "0"], ["live", "--duration", "-5"]])
def test_out_of_range_numbers_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(generate, args)
    assert result.exit_code == 2


def test_without_pg_dsn_the_commands_say_which_setting_is_missing() -> None:
    result = CliRunner().invoke(generate, ["seed"], env={"PG_DSN": ""})
    assert isinstance(result.exception, ConfigError)
    assert "PG_DSN is not set" in str(result.exception)
