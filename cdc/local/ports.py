"""The local stack's ports: reserved on this machine for as long as their stack's folder exists.

A part keeps its port for the life of its folder (`down`/`up`, `restart`), yet at times nothing listens on it:
between a part's stop and its new start, and for the seconds Kafka Connect's JVM or a worker takes to boot.
Whoever takes the port meanwhile leaves the part unable to start, or worse, answering in its place: a client
that reaches another stack's server on that port talks to the wrong pipeline. Two rules close both ways in:

- Ports are chosen outside the kernel's ephemeral range, the one it hands out by itself (a client's local
  port, a bind to port 0): no connection on the machine is ever given one of them.
- Every port given is recorded in the user's registry (ports.json in the user's cache folder, with the
  stack's other kept files), with the folder it belongs to; a port whose folder still exists is never given
  to another stack (a second `cdc local up`, the test suite's parallel processes). The registry is read and
  written under a lock, so two stacks starting at once never choose the same port.

Where the kernel's range leaves no port outside it (a range tuned to 1024-65535), ports inside it are given
too, still never twice.
"""
from __future__ import annotations

import fcntl
import json
import random
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cdc.errors import LocalStackError
from cdc.local.cache import cache_root

# Above the well-known servers' ports (PostgreSQL's 5432, MySQL's 3306, Kafka's 9092, Connect's 8083); with
# Linux's usual ephemeral range (32768-60999) the ports outside it are 20000-32767 and 61000-65535.
LOWEST = 20000
HIGHEST = 65535
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL = (32768, 60999)


def default_registry() -> Path:
    return cache_root() / "ports.json"


def reserve(folder: Path, registry: Path | None = None, offered: Iterable[int] | None = None) -> int:
    """A port for a part of the stack in `folder`: outside the ephemeral range if any is left there, not listened
    on now, and not recorded for another existing folder (nor for this one); recorded for `folder`.

    `offered`: the candidates in the order to try them (by default `candidates()`).
    """
    with _locked(registry or default_registry()) as recorded:
        for port in offered if offered is not None else candidates():
            if str(port) not in recorded and bindable(port):
                recorded[str(port)] = str(folder.resolve())
                return port
    raise LocalStackError(f"no free port for the local stack in {LOWEST}-{HIGHEST}: every one is listened on or "
                          f"recorded for an existing stack folder ({registry or default_registry()}); "
                          f"remove the folders of stacks no longer used")


def keep(folder: Path, port: int, registry: Path | None = None) -> None:
    """Record a port that `folder`'s stack already has (chosen before the registry), unless another existing
    folder holds it."""
    with _locked(registry or default_registry()) as recorded:
        recorded.setdefault(str(port), str(folder.resolve()))


def candidates() -> Iterator[int]:
    """The ports outside the ephemeral range, then those inside it; each group from a random start onwards."""
    low, high = ephemeral_range()
    outside = [port for port in range(LOWEST, HIGHEST + 1) if not low <= port <= high]
    inside = list(range(max(LOWEST, low), min(HIGHEST, high) + 1))
    for group in (outside, inside):
        start = random.randrange(len(group)) if group else 0
        yield from group[start:]
        yield from group[:start]


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(field) for field in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return low, high


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing holds the port now (a server's listening socket binds with SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextmanager
def _locked(registry: Path) -> Iterator[dict[str, str]]:
    """The registry's records (port -> folder) of folders that still exist, under its lock; written back after if
    they changed (each part's `up` asks for its port)."""
    registry.parent.mkdir(parents=True, exist_ok=True)
    with open(registry.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            loaded = json.loads(registry.read_text())
        except (OSError, ValueError):
            loaded = {}
        recorded = {port: folder for port, folder in loaded.items() if Path(folder).is_dir()}
        yield recorded
        if recorded == loaded:
            return
        written = registry.with_suffix(".tmp")
        written.write_text(json.dumps(recorded, indent=1, sort_keys=True))
        written.replace(registry)
