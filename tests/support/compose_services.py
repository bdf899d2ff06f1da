"""The project's own services (migrate, connector, consumer, marts, generator) run as their containers run them.

The image (Dockerfile) has no ENTRYPOINT, so a service's `command` is executed as it is written: `cdc …`
found on the PATH, or `sh -c "…"`. Here `cdc` is a shim on the PATH that runs this checkout's `cdc` (what the
image installs), and `python` this interpreter. A process gets what its container gets and nothing else:
the Dockerfile's ENV, then the service's `environment`, plus PATH, HOME and LANG; with two translations
for running beside the others on one machine, each in one function of tests.support.compose:
container paths go under a private folder (container_paths_to_local), and compose addresses
(postgres:5432 …) become the local servers' (point_at_local_servers).
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.cli import REPOSITORY
from tests.support.compose import Project, Service, container_paths_to_local, image_environment, point_at_local_servers

# `docker compose stop`: SIGTERM, then SIGKILL after this many seconds.
STOP_GRACE_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def write_shims(folder: Path) -> Path:
    """A bin folder whose `cdc` runs this checkout's command and whose `python` is this interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    shims = {
        "cdc": f'export PYTHONPATH="{REPOSITORY}"\nexec "{sys.executable}" -m cdc "$@"\n',
        "python": f'exec "{sys.executable}" "$@"\n',
    }
    for name, body in shims.items():
        shim = folder / name
        shim.write_text("#!/bin/sh\n" + body)
        shim.chmod(0o755)
    return folder


@dataclass
class ServiceRunner:
    """Runs app services of `project` against the local servers at `addresses`, their files under `folder`."""

    project: Project
    addresses: Mapping[str, str]
    folder: Path
    started: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bin = write_shims(self.folder / "bin")
        self.root = self.folder / "container"  # the containers' own filesystem: /tmp, /home/cdc …
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        (self.root / "home" / "cdc").mkdir(parents=True, exist_ok=True)
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def environment(self, service: Service) -> dict[str, str]:
        """The service's container environment, translated to this machine (see the module doc)."""
        container = {**image_environment(), **service.environment}
        local = point_at_local_servers(container_paths_to_local(container, self.root), self.addresses)
        return {
            "PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.root / "home" / "cdc"),
            "LANG": "C.UTF-8",
            **local,
        }

    def run(self, service: Service, command: Sequence[str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """The service's command (or `command`, as `docker compose run SERVICE COMMAND`) until it exits."""
        argv = list(command or service.command or ())
        return subprocess.run(argv, env=self.environment(service), cwd=REPOSITORY, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=_die_with_parent)

    def start(self, service: Service) -> subprocess.Popen[bytes]:
        """The service's command in the background (its own process group), its output in logs/NAME.log."""
        with (self.logs / f"{service.name}.log").open("ab") as log:
            process = subprocess.Popen(list(service.command or ()), env=self.environment(service), cwd=REPOSITORY,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        self.started[service.name] = process
        return process

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str) -> int:
        """`docker compose stop NAME`: SIGTERM, SIGKILL after the grace period; the exit status."""
        process = self.started[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # to the container's PID 1 only, as docker does
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _signal_group(process, signal.SIGKILL)  # the container ends with everything in it
        return process.returncode

    def stop_all(self) -> None:
        for name in reversed(list(self.started)):
            self.stop(name)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
