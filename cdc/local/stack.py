"""`cdc local up|down|status`: the whole stack as local processes, all data under one folder.

DIR/stack.json records every started process (pid + start time) as soon as
it runs, so `down` can stop a half-started stack too; DIR/stack.env holds the
settings that point every `cdc` command at this stack (and the URLs of the
metrics endpoints: the exporter's, and the workers' when the stack runs them,
each on a port of its own). Both hold the stack's
database passwords (generated once per stack): they are created readable by
their owner only.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cdc.errors import LocalStackError
from cdc.local import broker, connect, handover, mariadb, mysql_server, oracle_mysql, ports, postgres
from cdc.local.handover import Handover
from cdc.local.mysql_server import MySqlServer
from cdc.local.processes import ProcessRecord, kill_now, spawn, stop, tail, wait_until
from connectors.apply import apply_connector
from connectors.publication import added_tables
from connectors.settings import ConnectorSettings
from connectors.template import render
from core.errors import CdcError
from core.health import HealthError, read_heartbeat
from core.kafka_connect import ConnectClient, ConnectorStatus, first_lines
from core.settings import SourceSettings
from core.source.migrate import apply_migrations
from core.topics import ensure_source_topics

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"
ENV_FILE = "stack.env"
PASSWORD_BYTES = 24  # of randomness: 32 URL-safe characters
# The servers the stack can run as its MySQL (`cdc local up --mysql KIND`), the first one by default.
MYSQL_SERVERS: dict[str, MySqlServer] = {server.kind: server for server in (mariadb.SERVER, oracle_mysql.SERVER)}
DEFAULT_MYSQL = mariadb.SERVER.kind
MYSQL_PARTS = tuple(server.part for server in MYSQL_SERVERS.values())
# Stop order: whatever reads from a part stops before that part.
STOP_ORDER = ("exporter", "marts", "consumer", "connect", "broker", *MYSQL_PARTS, "postgres")

Progress = Callable[[str], None]


@dataclass
class StackState:
    folder: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)  # its URLs hold the passwords
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)  # per part: kept across down/up
    connect_group: str = ""  # Kafka Connect's group id (its internal topics' names), kept too
    handover: dict[str, Any] | None = None  # what `down` saved for the next broker (cdc.local.handover)
    # Per database part ("postgres", "mariadb" or "mysql"): its superuser's password, generated once, kept
    # across down/up.
    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    mysql: str = DEFAULT_MYSQL  # the kind of MySQL server (MYSQL_SERVERS), chosen by the first `up`

    @property
    def mysql_server(self) -> MySqlServer:
        return MYSQL_SERVERS[self.mysql]

    @property
    def infra(self) -> tuple[str, ...]:
        """The infrastructure parts (started by _start_infra)."""
        return ("postgres", self.mysql_server.part, "broker", "connect")

    @property
    def state_file(self) -> Path:
        return self.folder / STATE_FILE

    @property
    def logs(self) -> Path:
        path = self.folder / "logs"
        path.mkdir(exist_ok=True)
        return path

    @classmethod
    def load(cls, folder: Path) -> StackState:
        path = folder / STATE_FILE
        if not path.exists():
            return cls(folder)
        data = json.loads(path.read_text())
        records = {name: ProcessRecord.from_json(item) for name, item in data["processes"].items()}
        return cls(folder, dict(data["env"]), records, dict(data.get("ports", {})), data.get("connect_group", ""),
                   data.get("handover"), dict(data.get("passwords", {})), data.get("mysql", DEFAULT_MYSQL))

    def save(self) -> None:
        payload = {
            "env": self.env,
            "processes": {name: record.to_json() for name, record in self.processes.items()},
            "ports": self.ports,
            "connect_group": self.connect_group,
            "handover": self.handover,
            "passwords": self.passwords,
            "mysql": self.mysql,
        }
        write_private(self.state_file, json.dumps(payload, indent=2))

    def password(self, part: str) -> str:
        """The part's superuser password from an earlier run of this folder, else a new one (recorded)."""
        if part not in self.passwords:
            self.passwords[part] = secrets.token_urlsafe(PASSWORD_BYTES)
            self.save()
        return self.passwords[part]

    def add(self, record: ProcessRecord) -> None:
        self.processes[record.name] = record
        self.save()

    def running(self) -> list[str]:
        return [name for name, record in self.processes.items() if record.alive()]

    def alive(self, part: str) -> bool:
        record = self.processes.get(part)
        return record is not None and record.alive()

    def save_handover(self, saved: Handover) -> None:
        self.handover = saved.to_json()
        self.save()

    def clear_handover(self) -> None:
        self.handover = None
        self.save()

    def worker_env(self) -> dict[str, str]:
        """The environment the stack's workers run with (and the handover reads their settings from)."""
        return {**os.environ, **self.env, "MARTS_DATA_DIR": str(self.folder / "marts")}


def write_env_file(folder: Path, env: Mapping[str, str]) -> Path:
    path = folder / ENV_FILE
    lines = ["# Written by `cdc local up`. Use: set -a; . " + str(path) + "; set +a"]
    lines += [f"{key}={value}" for key, value in env.items()]
    write_private(path, "\n".join(lines) + "\n")
    return path


def write_private(path: Path, content: str) -> None:
    """Replace `path` with `content` in a file readable by its owner only, from its creation on."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # left by an interrupted write, maybe with another mode
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(content)
    tmp.replace(path)


WORKERS = {"consumer": ("consume",), "marts": ("marts",)}
PARTS = ("postgres", *MYSQL_PARTS, "broker", "connect", *WORKERS)  # of any stack
WORKER_SETTLE_SECONDS = 3.0
WORKER_READY_SECONDS = 120.0  # a worker's start on a busy machine: Faust's import, its MySQL and topics
EXPORTER = "exporter"  # `cdc exporter`: the slot's and the connector's metrics; runs with or without the workers
# How `status` lists the parts: along the pipeline (Kafka Connect starts before the databases).
STATUS_ORDER = ("postgres", *MYSQL_PARTS, "broker", "connect", EXPORTER, *WORKERS)
EXPORTER_READY_SECONDS = 15.0
# Each worker's metrics endpoint: the variable of its port, and the stack.env variable of its URL.
WORKER_METRICS = {"consumer": ("METRICS_PORT", "CONSUMER_METRICS_URL"),
                  "marts": ("MARTS_METRICS_PORT", "MARTS_METRICS_URL")}


def up(folder: Path, *, progress: Progress = log.info, die_with_parent: bool = False,
       infra_only: bool = True, mysql: str | None = None) -> StackState:
    """Start what is not running: PostgreSQL, the MySQL server (`mysql`: a kind of MYSQL_SERVERS, chosen
    by the folder's first `up`; MariaDB by default), the broker and Kafka Connect, then the schema, the
    connector and the exporter; without `infra_only` also the consumer and the marts worker.

    Each part keeps its port and data across `down`/`up` (recorded in stack.json). A part still
    running is left alone, so `up` on a partly running stack starts only the missing parts.
    """
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    state = StackState.load(folder)
    _choose_mysql(state, mysql)
    running = set(state.running())
    if running:
        progress(f"already running: {', '.join(sorted(running))}; starting only the missing parts")
    wanted = (*(state.infra if infra_only else state.infra + tuple(WORKERS)), EXPORTER)
    missing = [part for part in wanted if part not in running]
    if "broker" in missing:
        # A new broker has none of the old topics: whatever still reads or writes them starts again too.
        downstream = [part for part in ("connect", *WORKERS) if part in running]
        _stop(state, downstream, progress)
        missing += [part for part in downstream if part not in missing]
    try:
        _start_infra(state, [part for part in state.infra if part in missing], progress, die_with_parent)
        _ensure_connector(state, progress, new_broker="broker" in missing)
        if EXPORTER in missing:
            _start_exporter(state, progress, die_with_parent)
        for part in WORKERS:
            if part in missing:
                START_WORKER[part](state, progress, die_with_parent)
        write_env_file(folder, state.env)
        _settle_workers(state, [part for part in WORKERS if part in missing])
    except BaseException:
        progress("start-up failed; stopping what was started")
        _stop(state, [part for part in missing if part in state.processes], progress)
        raise
    progress(f"stack is up; settings in {folder / ENV_FILE}")
    return state


def _choose_mysql(state: StackState, mysql: str | None) -> None:
    """A new stack's MySQL server is `mysql`; a stack's data cannot move to another kind of server."""
    if mysql is None or mysql == state.mysql:
        return
    if mysql not in MYSQL_SERVERS:
        raise LocalStackError(f"unknown MySQL server {mysql!r}: one of {', '.join(MYSQL_SERVERS)}")
    if state.state_file.exists():
        raise LocalStackError(f"the stack in {state.folder} runs {state.mysql_server.label}, not "
                              f"{MYSQL_SERVERS[mysql].label}: start that one in another --dir")
    state.mysql = mysql
    state.save()


def _port(state: StackState, part: str) -> int:
    """The part's port from an earlier run of this folder, else a new one reserved for this folder (recorded);
    cdc.local.ports says why a port is reserved on the machine for as long as the folder exists."""
    if part in state.ports:
        ports.keep(state.folder, state.ports[part])  # a folder from before the registry: others now avoid it
    else:
        state.ports[part] = ports.reserve(state.folder)
        state.save()
    return state.ports[part]


def _start_infra(state: StackState, parts: list[str], progress: Progress, die_with_parent: bool) -> None:
    """Start these infrastructure parts. Kafka Connect's JVM takes longest to boot: with a new broker it boots while
    the databases start, as it holds no connector yet (the connector, which reads PostgreSQL, is registered
    afterwards). On a running broker its connector would start at once: Connect then starts after the databases."""
    if "broker" in parts:
        _start_broker(state, progress, die_with_parent)
    booting = _boot_connect(state, progress, die_with_parent) if "connect" in parts and "broker" in parts else None
    if "postgres" in parts:
        _start_postgres(state, progress, die_with_parent)
    if state.mysql_server.part in parts:
        _start_mysql(state, progress, die_with_parent)
    if "connect" in parts and booting is None:
        booting = _boot_connect(state, progress, die_with_parent)
    if booting is not None:
        connect.wait_until_up(booting, _port(state, "connect"))


def _start_postgres(state: StackState, progress: Progress, die_with_parent: bool) -> None:
    port, data, logs = _port(state, "postgres"), state.folder / "postgres", state.logs
    password = state.password("postgres")
    if not (data / "PG_VERSION").exists():
        progress("initialising PostgreSQL cluster (password authentication)")
        postgres.init_cluster(data, logs / "initdb.log", password)
    progress(f"starting PostgreSQL on 127.0.0.1:{port} (wal_level=logical)")
    state.add(postgres.start(data, port, logs / "postgres.log", die_with_parent, password))
    if postgres.require_password_auth(data, port, password):
        progress("PostgreSQL let connections in without a password: it now asks every one for the stack's")
    postgres.create_database(port, password)
    state.env["PG_DSN"] = postgres.dsn(port, password)
    applied = apply_migrations(SourceSettings(dsn=state.env["PG_DSN"]))
    progress(f"source schema applied ({', '.join(applied) or 'already up to date'})")


def _start_mysql(state: StackState, progress: Progress, die_with_parent: bool) -> None:
    server = state.mysql_server
    port, data, logs = _port(state, server.part), state.folder / server.part, state.logs
    server.prepare(data, logs, progress)
    progress(f"starting {server.label} on {mysql_server.HOST}:{port}")
    password = state.password(server.part)
    state.add(server.start(data, port, logs / f"{server.part}.log", die_with_parent, password))
    if mysql_server.require_root_password(port, password):
        progress(f"{server.label} root accounts given the stack's password, anonymous accounts dropped")
    mysql_server.create_database(port, password)
    state.env["MYSQL_URL"] = mysql_server.url(port, password)


def _start_broker(state: StackState, progress: Progress, die_with_parent: bool) -> None:
    port = _port(state, "broker")
    progress(f"starting the Kafka-protocol broker on 127.0.0.1:{port}")
    state.add(broker.start(port, state.logs / "broker.log", die_with_parent))
    state.env["KAFKA_BOOTSTRAP"] = broker.bootstrap(port)


def _boot_connect(state: StackState, progress: Progress, die_with_parent: bool) -> ProcessRecord:
    """Start Kafka Connect's worker (recorded at once, so that a failed `up` stops it too); not waited for."""
    port = _port(state, "connect")
    progress(f"starting Kafka Connect + Debezium on 127.0.0.1:{port}")
    state.connect_group = state.connect_group or f"cdc-connect-{uuid.uuid4().hex[:8]}"
    # The connector's config holds a reference to the password, resolved from the worker's environment. Its
    # user is PG_DSN's, the stack's PostgreSQL superuser, whose password the folder keeps: known before PostgreSQL
    # runs, so Connect can boot first.
    source_password = state.password("postgres")
    record = connect.boot(state.folder / "connect", bootstrap=state.env["KAFKA_BOOTSTRAP"], rest_port=port,
                          group=state.connect_group, source_password=source_password,
                          die_with_parent=die_with_parent)
    state.add(record)
    state.env["CONNECT_URL"] = connect.url(port)
    state.save()
    return record


def _ensure_connector(state: StackState, progress: Progress, new_broker: bool) -> None:
    """Topics and connector; on a new (empty) broker, first carry the pipeline across (see handover)."""
    settings = ConnectorSettings.from_env(state.env)
    ensure_source_topics(state.env["KAFKA_BOOTSTRAP"], settings.topic_prefix,
                  settings.topic_partitions, settings.topic_replication_factor)
    name, config = render(settings, added_tables(SourceSettings.from_env(state.env)))
    client = ConnectClient(settings.connect_url)
    if new_broker:
        handover.restore(state.worker_env(), handover.Handover.from_json(state.handover), config, progress)
        state.clear_handover()  # used once: a second restore would replay what the sinks applied since
    elif name in client.connectors() and client.status(name).connector_state in ("STOPPED", "PAUSED"):
        progress(f"resuming connector {name} (stopped by an interrupted `down`?)")
        client.resume(name)
    progress(f"registering connector {name}")
    apply_connector(client, name, config, settings.timeout_seconds)


def metrics_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"


def _start_exporter(state: StackState, progress: Progress, die_with_parent: bool) -> None:
    port = _port(state, EXPORTER)
    progress(f"starting the exporter (cdc exporter) on 127.0.0.1:{port}")
    env = {**state.worker_env(), "EXPORTER_METRICS_PORT": str(port)}
    record = spawn(EXPORTER, [sys.executable, "-m", "cdc", "exporter"], state.logs / f"{EXPORTER}.log",
                   env=env, die_with_parent=die_with_parent)
    state.add(record)
    state.env["EXPORTER_METRICS_URL"] = metrics_url(port)
    _wait_for_endpoint(state.env["EXPORTER_METRICS_URL"], record)


def _wait_for_endpoint(url: str, record: ProcessRecord, seconds: float = EXPORTER_READY_SECONDS,
                       settled_otherwise: Callable[[], bool] = lambda: False) -> None:
    """Until `url` answers (or `settled_otherwise` is true) while `record`'s process runs; LocalStackError with
    its log if it exits or `seconds` pass."""
    wait_until(f"{record.name} at {url}", lambda: _answers(url) or settled_otherwise(), seconds, record=record,
               interval=0.2)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def _start_worker(name: str) -> Callable[[StackState, Progress, bool], None]:
    def start(state: StackState, progress: Progress, die_with_parent: bool) -> None:
        command = WORKERS[name]
        # In stack.env too, so that `cdc health` run by hand reads this stack's workers.
        state.env[f"{name.upper()}_HEALTH_FILE"] = str(state.folder / f"{name}-health.json")
        # The port only in the worker's environment: a worker started by hand from stack.env would take it.
        port_variable, url_variable = WORKER_METRICS[name]
        port = _port(state, f"{name}-metrics")
        state.env[url_variable] = metrics_url(port)
        env = {**state.worker_env(), port_variable: str(port)}
        progress(f"starting the {name} worker (cdc {' '.join(command)})")
        state.add(spawn(name, [sys.executable, "-m", "cdc", *command], state.logs / f"{name}.log",
                        env=env, die_with_parent=die_with_parent))
    return start


def _settle_workers(state: StackState, started: list[str]) -> None:
    """Until each started worker serves its metrics, or says it waits as a standby (another instance holds its
    stage's lock), and is still running WORKER_SETTLE_SECONDS after its start (the consumer serves its metrics
    before it reads its settings' topics and tables): the stack is reported up only once its workers work. A
    worker that exits fails the start with its log."""
    settled_at = time.monotonic() + WORKER_SETTLE_SECONDS
    for name in started:
        record = state.processes[name]
        health = Path(state.env[f"{name.upper()}_HEALTH_FILE"])
        _wait_for_endpoint(state.env[WORKER_METRICS[name][1]], record, WORKER_READY_SECONDS,
                           settled_otherwise=partial(_waits_as_standby, health, record.pid))
    time.sleep(max(0.0, settled_at - time.monotonic()))
    for name in started:
        record = state.processes[name]
        if not record.alive():
            raise LocalStackError(f"the {name} worker exited; its log {record.log}:\n{tail(Path(record.log))}")


def _waits_as_standby(health: Path, pid: int) -> bool:
    """Whether process `pid`'s last heartbeat in `health` says it waits as a standby."""
    try:
        beat = read_heartbeat(health)
    except HealthError:
        return False
    return beat.standby and beat.pid == pid


START_WORKER: dict[str, Callable[[StackState, Progress, bool], None]] = {
    name: _start_worker(name) for name in WORKERS}


def down(folder: Path, *, progress: Progress = log.info, hand_over: bool = True) -> list[str]:
    """Stop every process the stack started, after a handover of the broker's content (unless not `hand_over`:
    for a folder thrown away after, where the handover's wait for the sinks would be lost time); return their
    names."""
    state = StackState.load(folder.resolve())
    pipeline = ("broker", "connect", state.mysql_server.part)
    if hand_over and all(state.alive(part) for part in pipeline) and "CONNECT_URL" in state.env:
        state.save_handover(handover.prepare(state.worker_env(), progress))
    return _stop(state, list(state.processes), progress)


def _stop(state: StackState, parts: list[str], progress: Progress, kill: bool = False) -> list[str]:
    stopped = []
    for name in sorted(parts, key=lambda n: STOP_ORDER.index(n) if n in STOP_ORDER else -1):
        record = state.processes.get(name)
        if record is not None and record.alive():
            progress(f"{'killing' if kill else 'stopping'} {name} (pid {record.pid})")
            if kill:
                kill_now(record)
            else:
                stop(record)
            stopped.append(name)
    return stopped


def restart(folder: Path, name: str, *, kill: bool = False, die_with_parent: bool = False,
            progress: Progress = log.info) -> None:
    """Stop (or SIGKILL) one part of a running stack and start it again on the same port with the same data.

    The broker keeps its topics in memory, so restarting it restarts Kafka Connect and the workers
    too and carries the pipeline across (see cdc.local.handover); with `kill` nothing is handed
    over, and the sinks are rebuilt from a new snapshot.
    """
    state = StackState.load(folder.resolve())
    if name not in PARTS or name not in state.processes:
        started = ", ".join(part for part in PARTS if part in state.processes)
        raise LocalStackError(f"cannot restart {name!r}: this stack's parts are {started}")
    affected = [name]
    if name == "broker":
        affected = [part for part in ("broker", "connect", *WORKERS) if state.alive(part)]
        if not kill:
            state.save_handover(handover.prepare(state.worker_env(), progress))
    _stop(state, affected, progress, kill=kill)
    _start_infra(state, [part for part in state.infra if part in affected], progress, die_with_parent)
    if name == "broker":
        _ensure_connector(state, progress, new_broker=True)
    for part in WORKERS:
        if part in affected:
            START_WORKER[part](state, progress, die_with_parent)
    _settle_workers(state, [part for part in affected if part in WORKERS])


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
    listed = sorted(state.processes.items(),
                    key=lambda item: STATUS_ORDER.index(item[0]) if item[0] in STATUS_ORDER else len(STATUS_ORDER))
    parts = [PartStatus(name, record.alive(), f"pid {record.pid}, log {record.log}") for name, record in listed]
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
