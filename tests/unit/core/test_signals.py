"""The stop signal handler of the commands that run until stopped (cdc consume, cdc generate live), and the exit
deadline of a stopped worker."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from core.signals import stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_first_stop_signal_asks_the_stream_to_stop(signum: int) -> None:
    stop = threading.Event()
    with stop_on_signals(stop, "the test"):
        os.kill(os.getpid(), signum)
        assert stop.wait(2)


def test_a_second_stop_signal_interrupts_at_once() -> None:
    stop = threading.Event()
    with pytest.raises(KeyboardInterrupt), stop_on_signals(stop, "the test"):
        os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(2)
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(2)


def test_the_previous_signal_handlers_are_restored_afterwards() -> None:
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals(threading.Event(), "the test"):
        pass
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_outside_the_main_thread_it_does_nothing() -> None:
    failures: list[BaseException] = []

    def enter() -> None:
        try:
            with stop_on_signals(threading.Event(), "the test"):
                pass
        except BaseException as exc:  # reported to the main thread
            failures.append(exc)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert failures == [] and signal.getsignal(signal.SIGTERM) == before


def test_the_first_signal_is_logged_with_what_is_finished(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    with caplog.at_level("INFO", logger="core.signals"), stop_on_signals(stop, "the current batch"):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
    assert "SIGTERM: stopping after the current batch" in caplog.text


def test_a_second_signal_only_logs_when_it_must_not_interrupt() -> None:
    stop = threading.Event()
    with stop_on_signals(stop, "the test", second_interrupts=False):
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.is_set()


def exit_of(block: str) -> tuple[int, float]:
    """A Python process whose main thread ends after `block`, inside exit_within(0.5), while a thread that is no
    daemon runs on: (its exit code, seconds it took)."""
    program = textwrap.dedent(f"""
        import threading, time
        from core.signals import exit_within
        threading.Thread(target=time.sleep, args=(600,), name="stuck").start()
        with exit_within(0.5):
            {block}
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=60, check=False)
    return done.returncode, time.monotonic() - started


def test_a_process_stuck_on_a_thread_after_its_worker_raised_exits_with_1() -> None:
    code, seconds = exit_of("raise RuntimeError('lock lost')")
    assert code == 1 and seconds < 30


def test_a_process_stuck_on_a_thread_after_its_worker_returned_exits_with_0() -> None:
    code, seconds = exit_of("pass")
    assert code == 0 and seconds < 30
