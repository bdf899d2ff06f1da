"""`cdc local up|down|status`: the whole stack as local processes, all data under one folder.

DIR/stack.json records every started process (pid + start time) as soon as
it runs, so `down` can stop a half-started stack too; DIR/stack.env holds the
settings that point every `cdc` command at this stack.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cdc.errors import CdcError, LocalStackError
from cdc.local import broker, connect, mariadb, postgres
from cdc.local.processes import ProcessRecord, free_port, spawn, stop, tail
from cdc.settings import ConnectorSettings, DatabaseUrl, SourceSettings
from cdc.source.migrate import apply_migrations
from cdc.topics import ensure_topics, source_topics
from connectors.client import ConnectClient, ConnectorStatus, apply_connector, first_lines
from connectors.template import render

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"
ENV_FILE = "stack.env"
# Stop order: whatever reads from a part stops before that part.
STOP_ORDER = ("marts", "consumer", "connect", "broker", "mariadb", "postgres")

Progress = Callable[[str], None]


@dataclass
class StackState:
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.folder / STATE_FILE

    @classmethod
    def load(cls, folder: Path) -> StackState:
        path = folder / STATE_FILE
        if not path.exists():
            return cls(folder)
        data = json.loads(path.read_text())
        records = {name: ProcessRecord.from_json(item) for name, item in data["processes"].items()}
        return cls(folder, dict(data["env"]), records)

    def save(self) -> None:
        payload = {
            "env": self.env,
            "processes": {name: record.to_json() for name, record in self.processes.items()},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2))
        tmp.replace(self.state_file)

    def add(self, record: ProcessRecord) -> None:
        self.processes[record.name] = record
        self.save()

    def running(self) -> list[str]:
        return [name for name, record in self.processes.items() if record.alive()]


def write_env_file(folder: Path, env: Mapping[str, str]) -> Path:
    path = folder / ENV_FILE
    lines = ["# Written by `cdc local up`. Use: set -a; . " + str(path) + "; set +a"]
    lines += [f"{key}={value}" for key, value in env.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def up(folder: Path, *, progress: Progress = log.info, die_with_parent: bool = False,
       infra_only: bool = True) -> StackState:
    """Start PostgreSQL, MariaDB, the broker and Kafka Connect; apply schema and connector.

    Without `infra_only`, also start the replication consumer and the marts worker.
    """
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    state = StackState.load(folder)
    if state.running():
        raise LocalStackError(
            f"a stack is already running in {folder} ({', '.join(state.running())}); "
            f"run `cdc local down --dir {folder}` first"
        )
    state = StackState(folder)
    try:
        _start_infra(state, progress, die_with_parent)
        if not infra_only:
            _start_workers(state, progress, die_with_parent)
    except BaseException:
        progress("start-up failed; stopping what was started")
        down(folder, progress=progress)
        raise
    return state


def _start_infra(state: StackState, progress: Progress, die_with_parent: bool) -> None:
    folder = state.folder
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)

    pg_port = free_port()
    pg_data = folder / "postgres"
    if not (pg_data / "PG_VERSION").exists():
        progress("initialising PostgreSQL cluster")
        postgres.init_cluster(pg_data, logs / "initdb.log")
    progress(f"starting PostgreSQL on 127.0.0.1:{pg_port} (wal_level=logical)")
    state.add(postgres.start(pg_data, pg_port, logs / "postgres.log", die_with_parent))
    postgres.create_database(pg_port)
    state.env["PG_DSN"] = postgres.dsn(pg_port)
    applied = apply_migrations(SourceSettings(dsn=state.env["PG_DSN"]))
    progress(f"source schema applied ({', '.join(applied) or 'already up to date'})")

    my_port = free_port()
    my_data = folder / "mariadb"
    if not (my_data / "mysql").exists():
        progress("initialising MariaDB data folder")
        mariadb.init_datadir(my_data, logs / "mariadb-install.log")
    progress(f"starting MariaDB on 127.0.0.1:{my_port}")
    state.add(mariadb.start(my_data, my_port, logs / "mariadb.log", die_with_parent))
    mariadb.create_database(my_port)
    state.env["MYSQL_URL"] = mariadb.url(my_port)

    kafka_port = free_port()
    progress(f"starting the Kafka-protocol broker on 127.0.0.1:{kafka_port}")
    state.add(broker.start(kafka_port, logs / "broker.log", die_with_parent))
    state.env["KAFKA_BOOTSTRAP"] = broker.bootstrap(kafka_port)

    rest_port = free_port()
    progress(f"starting Kafka Connect + Debezium on 127.0.0.1:{rest_port} (takes ~30 s)")
    group = f"cdc-connect-{uuid.uuid4().hex[:8]}"
    state.add(connect.start(folder / "connect", bootstrap=state.env["KAFKA_BOOTSTRAP"],
                            rest_port=rest_port, group=group, die_with_parent=die_with_parent))
    state.env["CONNECT_URL"] = connect.url(rest_port)
    state.save()

    settings = ConnectorSettings.from_env(state.env)
    ensure_topics(state.env["KAFKA_BOOTSTRAP"], source_topics(settings.topic_prefix),
                  settings.topic_partitions, settings.topic_replication_factor)
    name, config = render(settings)
    progress(f"registering connector {name}")
    apply_connector(ConnectClient(settings.connect_url), name, config, settings.timeout_seconds)
    write_env_file(folder, state.env)
    state.save()
    progress(f"stack is up; settings in {folder / ENV_FILE}")


WORKERS = {"consumer": ("consume",), "marts": ("marts",)}
WORKER_SETTLE_SECONDS = 3.0


def _start_workers(state: StackState, progress: Progress, die_with_parent: bool) -> None:
    """The pipeline's Python workers, as `python -m cdc <command>` with the stack's settings."""
    env = {**os.environ, **state.env, "MARTS_DATA_DIR": str(state.folder / "marts")}
    for name, command in WORKERS.items():
        progress(f"starting the {name} worker (cdc {' '.join(command)})")
        record = spawn(name, [sys.executable, "-m", "cdc", *command], state.folder / "logs" / f"{name}.log",
                       env=env, die_with_parent=die_with_parent)
        state.add(record)
    time.sleep(WORKER_SETTLE_SECONDS)  # a worker with a broken setting exits at once
    for name in WORKERS:
        record = state.processes[name]
        if not record.alive():
            raise LocalStackError(f"the {name} worker exited; its log {record.log}:\n{tail(Path(record.log))}")


def down(folder: Path, *, progress: Progress = log.info) -> list[str]:
    """Stop every process the stack started; return their names."""
    state = StackState.load(folder.resolve())
    stopped = []
    names = sorted(state.processes, key=lambda n: STOP_ORDER.index(n) if n in STOP_ORDER else -1)
    for name in names:
        record = state.processes[name]
        if record.alive():
            progress(f"stopping {name} (pid {record.pid})")
            stop(record)
            stopped.append(name)
    return stopped


RESTARTABLE = ("mariadb",)


def restart(folder: Path, name: str, *, die_with_parent: bool = False, progress: Progress = log.info) -> ProcessRecord:
    """Stop one part of a running stack and start it again on the same port with the same data.

    Only "mariadb" for now (what the consumer's crash-safety test needs).
    """
    state = StackState.load(folder.resolve())
    record = state.processes.get(name)
    if name not in RESTARTABLE or record is None:
        raise LocalStackError(f"cannot restart {name!r}: restartable parts are {', '.join(RESTARTABLE)}")
    port = DatabaseUrl.parse(state.env["MYSQL_URL"], variable="MYSQL_URL", default_port=3306).port
    progress(f"restarting {name} (pid {record.pid}) on 127.0.0.1:{port}")
    stop(record)
    state.add(mariadb.start(state.folder / "mariadb", port, Path(record.log), die_with_parent))
    return state.processes[name]


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool
    detail: str
    failed: bool = False  # a connector or task FAILED: Connect will not restart it by itself


def status(folder: Path) -> list[PartStatus]:
    state = StackState.load(folder.resolve())
    if not state.processes:
        raise LocalStackError(f"no stack in {folder} (no {STATE_FILE}); start one with `cdc local up --dir {folder}`")
    parts = [
        PartStatus(name, record.alive(), f"pid {record.pid}, log {record.log}")
        for name, record in state.processes.items()
    ]
    if "CONNECT_URL" in state.env and state.processes.get("connect", None) and state.processes["connect"].alive():
        parts.extend(_connector_statuses(state.env))
    return parts


def _connector_statuses(env: Mapping[str, str]) -> list[PartStatus]:
    """The stack's connector first, then every other one registered on its Kafka Connect."""
    settings = ConnectorSettings.from_env(env)
    name, _ = render(settings)
    client = ConnectClient(settings.connect_url, request_timeout=3)
    try:
        others = sorted(set(client.connectors()) - {name})
    except CdcError as exc:
        return [PartStatus(f"connector {name}", False, str(exc))]
    return [_connector_status(client, connector) for connector in (name, *others)]


def _connector_status(client: ConnectClient, name: str) -> PartStatus:
    try:
        current: ConnectorStatus = client.status(name)
    except CdcError as exc:
        return PartStatus(f"connector {name}", False, str(exc))
    detail = current.describe()
    if current.failed:
        detail += f": {first_lines(current.trace or 'no trace', 1)}"
    return PartStatus(f"connector {name}", current.running, detail, current.failed)
