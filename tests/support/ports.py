"""Ports that nothing listens on now, chosen by the kernel: to offer to cdc.local.ports, or for a moment's use
such as a URL where nothing answers (a server a test keeps running gets a reserved one: cdc.local.ports.reserve)."""
from __future__ import annotations

import socket
from contextlib import ExitStack


def free_ports(count: int) -> list[int]:
    """`count` different ports that nothing listens on now (all bound at once, so the kernel gives no port twice)."""
    with ExitStack() as held:
        sockets = [held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port() -> int:
    return free_ports(1)[0]
