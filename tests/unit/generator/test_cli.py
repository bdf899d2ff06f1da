"""`cdc generate`: its options, their checks, and a clean stop on SIGINT/SIGTERM."""
from __future__ import annotations

import os
import signal
import threading

import pytest
from click.testing import CliRunner

from core.errors import ConfigError
from generator.cli import generate, stop_on_signals


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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_first_stop_signal_asks_the_stream_to_stop(signum: int) -> None:
    stop = threading.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signum)
        assert stop.wait(2)


def test_a_second_stop_signal_interrupts_at_once() -> None:
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt), stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(2)
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(2)


def test_the_previous_signal_handlers_are_restored_afterwards() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals(threading.Event()):
        pass
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
