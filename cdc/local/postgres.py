"""A private PostgreSQL cluster with wal_level=logical, password authentication only.

initdb --auth=scram-sha-256 writes a pg_hba.conf that asks every connection
for the password, on TCP and on the unix socket, replication ones (Debezium)
included; the superuser's password is the stack's, given once at initdb.
A cluster initialised before the stack had passwords (trust) is brought to
the same state when it starts (require_password_auth).
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg2
from psycopg2 import sql

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord, running, spawn, wait_until
from core.limits import MAX_SLOT_WAL_KEEP_SIZE
from core.settings import DatabaseUrl

# initdb and postgres refuse to run as root; root runs them as this system user.
SERVICE_USER = "cdc-postgres"
SUPERUSER = "postgres"
DATABASE = "shop"
AUTH_METHOD = "scram-sha-256"
# What initdb --auth=scram-sha-256 writes, comments left out.
PG_HBA = f"""# Written by `cdc local up`: every connection needs the password.
local   all             all                                     {AUTH_METHOD}
host    all             all             127.0.0.1/32            {AUTH_METHOD}
host    all             all             ::1/128                 {AUTH_METHOD}
local   replication     all                                     {AUTH_METHOD}
host    replication     all             127.0.0.1/32            {AUTH_METHOD}
host    replication     all             ::1/128                 {AUTH_METHOD}
"""


def bin_dir() -> Path:
    for version in ("17", "16", "15"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin")
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise LocalStackError(
        "PostgreSQL server binaries not found (initdb); install them: apt-get install postgresql-15"
    )


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
    return SERVICE_USER


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def init_cluster(data: Path, log: Path, password: str) -> None:
    user = _run_as()
    data.mkdir(parents=True, exist_ok=True)
    _chown(data, user)
    data.chmod(0o700)
    with _password_file(data.parent / ".postgres-password", password, user) as pwfile:
        result = subprocess.run(
            [str(bin_dir() / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--auth={AUTH_METHOD}",
             f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8"],
            user=user, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
    log.write_text(result.stdout)
    if result.returncode != 0:
        hint = ""
        if "Permission denied" in result.stdout and user:
            hint = f"\n(the {user} user must be able to reach {data}: every parent folder needs o+x)"
        raise LocalStackError(f"initdb failed:\n{result.stdout[-2000:]}{hint}")
    settings = f"""
# cdc local stack
listen_addresses = '127.0.0.1'
unix_socket_directories = '{data}'
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
max_slot_wal_keep_size = '{MAX_SLOT_WAL_KEEP_SIZE}'
# pg_xact_commit_timestamp(xid): what a stage's cdc_watermark.source_commit_time is checked against
track_commit_timestamp = on
max_connections = 100
shared_buffers = 128MB
fsync = on
timezone = 'UTC'
log_timezone = 'UTC'
"""
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(settings)


@contextmanager
def _password_file(path: Path, password: str, user: str | None) -> Iterator[Path]:
    """The password in a file only its reader may read (created 0600), removed once initdb has read it."""
    path.unlink(missing_ok=True)  # left by an interrupted initdb
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(password + "\n")
        _chown(path, user)
        yield path
    finally:
        path.unlink(missing_ok=True)


def start(data: Path, port: int, log: Path, die_with_parent: bool, password: str) -> ProcessRecord:
    _remove_stale_locks(data)
    record = spawn(
        "postgres",
        [str(bin_dir() / "postgres"), "-D", str(data), "-p", str(port)],
        log,
        user=_run_as(),
        stop_signal=signal.SIGINT,  # "fast" shutdown: do not wait for Debezium's session
        die_with_parent=die_with_parent,
    )
    wait_until("postgres", lambda: _accepts(port, password), timeout=60, record=record)
    return record


def _remove_stale_locks(data: Path) -> None:
    """Remove the lock files of a server that was killed (`cdc local restart postgres --kill`).

    PostgreSQL refuses to start while the pid in postmaster.pid, or in its socket's lock file
    (the socket is in the data folder), answers kill(pid, 0), and a killed postmaster whose parent
    is gone stays a zombie, which does, until init reaps it. A zombie or a missing process runs no
    server: its lock files are removed. A live process's are left, and PostgreSQL refuses to start
    with its own message.
    """
    for lock in [data / "postmaster.pid", *data.glob(".s.PGSQL.*.lock")]:
        try:
            pid = int(lock.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if not running(pid):
            lock.unlink(missing_ok=True)


def _superuser(port: int, password: str) -> DatabaseUrl:
    return DatabaseUrl(host="127.0.0.1", port=port, user=SUPERUSER, database="postgres", password=password)


def _accepts(port: int, password: str) -> bool:
    try:
        psycopg2.connect(_superuser(port, password).to_url("postgresql"), connect_timeout=2).close()
    except psycopg2.OperationalError:
        return False
    return True


def require_password_auth(data: Path, port: int, password: str) -> bool:
    """Give a cluster that lets anyone in without a password (trust, from before the stack had passwords)
    the superuser's password and the pg_hba.conf of initdb --auth=scram-sha-256; True if it had to."""
    conn = psycopg2.connect(_superuser(port, password).to_url("postgresql"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method IS DISTINCT FROM %s",
                        (AUTH_METHOD,))
            (other_rules,) = cur.fetchone()
            if not other_rules:
                return False
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(SUPERUSER)), (password,))
            (data / "pg_hba.conf").write_text(PG_HBA)  # in place: the file keeps its owner
            cur.execute("SELECT pg_reload_conf()")
            return True
    finally:
        conn.close()


def create_database(port: int, password: str) -> None:
    conn = psycopg2.connect(_superuser(port, password).to_url("postgresql"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        conn.close()


def dsn(port: int, password: str) -> str:
    """PG_DSN: the stack's database, as the superuser."""
    return replace(_superuser(port, password), database=DATABASE).to_url("postgresql")
