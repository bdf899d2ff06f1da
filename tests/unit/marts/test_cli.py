"""`cdc marts` options."""
from __future__ import annotations

from click.testing import CliRunner

from marts.cli import marts


def test_the_deprecated_verify_flag_is_accepted_but_not_advertised() -> None:
    result = CliRunner().invoke(marts, ["--verify"], env={"PG_DSN": "", "MYSQL_URL": ""})

    assert "No such option" not in result.output and "PG_DSN is not set" in str(result.exception)
    assert "--verify" not in CliRunner().invoke(marts, ["--help"]).output
