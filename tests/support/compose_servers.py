"""The servers behind compose's infrastructure services, as local processes set up the way their images are.

Compose's own names collide with the shared session stack (database `shop` on both servers, topic prefix
`shop`, connector `shop-postgres`, slot `cdc_shop`, and a Kafka Connect worker that resolves the
connector's password reference to the session stack's superuser password), and compose's files fix them.
So these are servers of their own, from the local stack's modules (cdc.local), in one scratch folder:

- postgres: a cluster whose superuser is POSTGRES_USER with POSTGRES_PASSWORD, the database POSTGRES_DB,
  then every script compose mounts into /docker-entrypoint-initdb.d run as the postgres image runs them
  (docker-library/postgres docker-entrypoint.sh: an executable *.sh is executed with the container's
  environment and PGPASSWORD=POSTGRES_PASSWORD; *.sql through psql);
- mysql: MariaDB with root's password MYSQL_ROOT_PASSWORD, then the statements the mysql image's
  entrypoint runs for MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD (docker-library/mysql
  docker-entrypoint.sh, docker_setup_db; the image has no script of this project to run);
- kafka: the local broker;
- connect: Kafka Connect + Debezium with the connect service's DEBEZIUM_PG_PASSWORD in its environment.

`addresses` maps each compose address the app services use ("postgres:5432", "mysql:3306", "kafka:9092",
"connect:8083": the ports the images listen on) to the local server.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pymysql
from psycopg2 import sql

from cdc.local import broker, connect, mariadb, mysql_server, postgres
from cdc.local.ports import reserve
from cdc.local.processes import ProcessRecord, stop
from cdc.local.stack import STOP_ORDER
from connectors.password_reference import PASSWORD_VARIABLE
from tests.support.compose import ComposeFileError, Project, Service

HOST = "127.0.0.1"
# The port each image serves the compose network on (postgres and mysql: their images' defaults; kafka: the
# PLAINTEXT listener of KAFKA_LISTENERS; connect: the Debezium image's REST port).
CONTAINER_PORTS = {"postgres": 5432, "mysql": 3306, "kafka": 9092, "connect": 8083}
INIT_FOLDER = "/docker-entrypoint-initdb.d"
INIT_SCRIPT_TIMEOUT = 60


@dataclass
class LocalServers:
    folder: Path
    addresses: dict[str, str] = field(default_factory=dict)  # compose address -> local address
    records: list[ProcessRecord] = field(default_factory=list)

    def serve(self, service: str, port: int) -> None:
        self.addresses[f"{service}:{CONTAINER_PORTS[service]}"] = f"{HOST}:{port}"

    def local_port(self, service: str) -> int:
        return int(self.addresses[f"{service}:{CONTAINER_PORTS[service]}"].rsplit(":", 1)[1])

    def stop(self) -> None:
        """Whatever reads from a server stops before it (the local stack's order)."""
        for record in sorted(self.records, key=lambda record: STOP_ORDER.index(record.name)):
            stop(record)


@contextmanager
def compose_servers(project: Project, folder: Path) -> Iterator[LocalServers]:
    """postgres, mysql, kafka and connect as local processes (see the module doc); stopped on the way out."""
    servers = LocalServers(folder)
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    pg, my = project.services["postgres"], project.services["mysql"]
    try:
        # The data folders are initialised (no lasting process) while Kafka Connect starts: its ~25 s dominate.
        # The servers themselves are started from this thread: their parent-death signal follows the thread.
        with ThreadPoolExecutor(max_workers=2) as pool:
            pg_init = pool.submit(postgres.init_cluster, folder / "postgres", logs / "initdb.log",
                                  pg.environment["POSTGRES_PASSWORD"])
            my_init = pool.submit(mariadb.prepare, folder / "mysql", logs, lambda _step: None)
            try:
                _start_kafka(servers)
                _start_connect(project.services["connect"], servers)
            finally:
                pg_init.result()
                my_init.result()
        _start_postgres(pg, servers)
        _start_mysql(my, servers)
        yield servers
    finally:
        servers.stop()


def _start_kafka(servers: LocalServers) -> None:
    port = reserve(servers.folder)
    servers.records.append(broker.start(port, servers.folder / "logs" / "broker.log", die_with_parent=True))
    servers.serve("kafka", port)


def _start_connect(service: Service, servers: LocalServers) -> None:
    port = reserve(servers.folder)
    environment = service.environment
    servers.records.append(connect.start(
        servers.folder / "connect", bootstrap=f"{HOST}:{servers.local_port('kafka')}", rest_port=port,
        group=environment["GROUP_ID"], source_password=environment[PASSWORD_VARIABLE], die_with_parent=True))
    servers.serve("connect", port)


def _start_postgres(service: Service, servers: LocalServers) -> None:
    environment = service.environment
    if environment["POSTGRES_USER"] != postgres.SUPERUSER:
        raise ComposeFileError(f"POSTGRES_USER {environment['POSTGRES_USER']!r}: the local cluster's superuser "
                               f"is {postgres.SUPERUSER!r}")
    port, password = reserve(servers.folder), environment["POSTGRES_PASSWORD"]
    servers.records.append(postgres.start(servers.folder / "postgres", port, servers.folder / "logs" / "postgres.log",
                                          die_with_parent=True, password=password))
    servers.serve("postgres", port)
    _create_postgres_database(port, password, environment["POSTGRES_DB"])
    for script, target in service.bind_mounts(INIT_FOLDER):
        _run_postgres_init_file(script, target, environment, port, servers.folder / "logs")


def _create_postgres_database(port: int, password: str, database: str) -> None:
    """What the postgres image does for POSTGRES_DB (docker_setup_db)."""
    conn = psycopg2.connect(host=HOST, port=port, user=postgres.SUPERUSER, password=password, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    finally:
        conn.close()


def _run_postgres_init_file(script: Path, target: str, environment: dict[str, str], port: int,
                            logs: Path) -> None:
    """One file of /docker-entrypoint-initdb.d, as the postgres image's entrypoint runs it."""
    env = {
        **environment,
        "PATH": f"{postgres.bin_dir()}:/usr/local/bin:/usr/bin:/bin",
        "PGPASSWORD": environment["POSTGRES_PASSWORD"],  # the entrypoint exports it for the init files
        # The image's scripts reach the temporary server on its socket; this cluster takes TCP on 127.0.0.1.
        "PGHOST": HOST,
        "PGPORT": str(port),
    }
    if target.endswith(".sh"):
        argv = [str(script)] if script.stat().st_mode & 0o111 else ["bash", "-c", '. "$0"', str(script)]
    elif target.endswith(".sql"):
        argv = ["psql", "-v", "ON_ERROR_STOP=1", "--username", environment["POSTGRES_USER"], "--no-password",
                "--no-psqlrc", "--dbname", environment["POSTGRES_DB"], "-f", str(script)]
    else:
        return  # the entrypoint ignores other files
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=INIT_SCRIPT_TIMEOUT)
    (logs / f"init-{Path(target).name}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise ComposeFileError(f"{target} ({script}) failed with exit {result.returncode}:\n{result.stderr}")


def _start_mysql(service: Service, servers: LocalServers) -> None:
    environment = service.environment
    port, root_password = reserve(servers.folder), environment["MYSQL_ROOT_PASSWORD"]
    servers.records.append(mariadb.start(servers.folder / "mysql", port, servers.folder / "logs" / "mariadb.log",
                                         die_with_parent=True, password=root_password))
    mysql_server.require_root_password(port, root_password)
    servers.serve("mysql", port)
    _mysql_image_setup(port, root_password, environment)


def _mysql_image_setup(port: int, root_password: str, environment: dict[str, str]) -> None:
    """The mysql image's docker_setup_db for MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD."""
    database, user, password = (environment.get(name, "") for name in ("MYSQL_DATABASE", "MYSQL_USER",
                                                                        "MYSQL_PASSWORD"))
    conn = pymysql.connect(host=HOST, port=port, user="root", password=root_password, autocommit=True)
    try:
        with conn.cursor() as cur:
            if database:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            if user and password:
                cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
                if database:
                    # The image escapes `_`: in a GRANT's database name it is a LIKE wildcard.
                    cur.execute(f"GRANT ALL ON `{database.replace('_', chr(92) + '_')}`.* TO %s@'%%'", (user,))
    finally:
        conn.close()
