"""core.kafka_connect: a worker that is rebalancing is asked again instead of failing the call."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import kafka_connect
from core.errors import ConnectorError
from core.kafka_connect import ConnectClient


def serve(answers: list[tuple[int, dict[str, object]]]) -> tuple[ThreadingHTTPServer, list[int]]:
    calls: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            status, body = answers[min(len(calls), len(answers) - 1)]
            calls.append(status)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, calls


REBALANCING = (500, {"error_code": 500, "message": "Request cannot be completed because a rebalance is expected"})


@pytest.fixture(autouse=True)
def short_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(kafka_connect, "REBALANCE_WAIT_SECONDS", 3.0)
    yield


def test_a_call_answered_rebalancing_is_repeated_until_the_worker_answers() -> None:
    server, calls = serve([REBALANCING, (200, {"name": "shop-postgres"})])
    try:
        assert ConnectClient(f"http://127.0.0.1:{server.server_port}")._request("GET", "/connectors/x") == {
            "name": "shop-postgres"}
        assert calls == [500, 200]
    finally:
        server.shutdown()


def test_any_other_error_fails_at_once() -> None:
    server, calls = serve([(404, {"error_code": 404, "message": "Connector x not found"})])
    try:
        with pytest.raises(ConnectorError, match="404"):
            ConnectClient(f"http://127.0.0.1:{server.server_port}")._request("GET", "/connectors/x")
        assert calls == [404]
    finally:
        server.shutdown()
