"""`cdc local up` reports the stack up only once its workers work: each serves its metrics, or waits as a standby."""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local import stack
from cdc.local.processes import kill_now, spawn
from tests.support.ports import free_ports

# A stand-in worker: after DELAY seconds it serves /metrics on PORT, or writes a standby's heartbeat to HEALTH.
FAKE_WORKER = """
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
time.sleep(float(os.environ["DELAY"]))
if os.environ.get("HEALTH"):
    now = time.time()
    beat = {"worker": "marts", "pid": os.getpid(), "written_at": now, "progress_at": now, "last_batch_at": None,
            "waiting": 0, "standby": True}
    with open(os.environ["HEALTH"], "w") as file:
        json.dump(beat, file)
    time.sleep(60)
if os.environ.get("EXIT"):
    print("marts: cannot read MARTS_BATCH_SIZE"); sys.exit(2)
class Metrics(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"cdc_up 1\\n")
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Metrics).serve_forever()
"""


@pytest.fixture
def state(tmp_path: Path) -> Iterator[stack.StackState]:
    (port,) = free_ports(1)
    state = stack.StackState(tmp_path)
    state.env.update({"MARTS_METRICS_URL": stack.metrics_url(port), "MARTS_HEALTH_FILE": str(tmp_path / "h.json")})
    yield state
    for record in state.processes.values():
        kill_now(record)


def start_fake_worker(state: stack.StackState, **env: str) -> None:
    port = state.env["MARTS_METRICS_URL"].split(":")[-1].split("/")[0]
    state.processes["marts"] = spawn("marts", [sys.executable, "-c", FAKE_WORKER], state.folder / "marts.log",
                                     env={**os.environ, "PORT": port, **env})


def test_the_workers_settle_only_once_their_metrics_answer(state: stack.StackState) -> None:
    # The CI failure this closes: `up` waited 3 s, a loaded machine's marts worker served its metrics later, and
    # the test's first request right after `up` was refused.
    start_fake_worker(state, DELAY="4")

    stack._settle_workers(state, ["marts"])

    with urllib.request.urlopen(state.env["MARTS_METRICS_URL"], timeout=5) as answer:
        assert answer.read() == b"cdc_up 1\n"


def test_a_worker_waiting_as_a_standby_has_settled(state: stack.StackState) -> None:
    start_fake_worker(state, DELAY="0.5", HEALTH=state.env["MARTS_HEALTH_FILE"])
    started = time.monotonic()

    stack._settle_workers(state, ["marts"])

    assert time.monotonic() - started < 30
    assert json.loads(Path(state.env["MARTS_HEALTH_FILE"]).read_text())["standby"] is True


def test_a_worker_that_exits_fails_the_start_with_its_log(state: stack.StackState) -> None:
    start_fake_worker(state, DELAY="0.5", EXIT="1")

    with pytest.raises(LocalStackError, match="marts exited while starting; its log .*\nmarts: cannot read MARTS_BATCH_SIZE"):
        stack._settle_workers(state, ["marts"])
