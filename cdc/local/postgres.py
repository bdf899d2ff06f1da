"""A private PostgreSQL cluster with wal_level=logical."""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg2

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord, spawn, wait_until
from core.limits import MAX_SLOT_WAL_KEEP_SIZE

# initdb and postgres refuse to run as root; root runs them as this system user.
SERVICE_USER = "cdc-postgres"
DATABASE = "shop"


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


def init_cluster(data: Path, log: Path) -> None:
    user = _run_as()
    data.mkdir(parents=True, exist_ok=True)
    _chown(data, user)
    data.chmod(0o700)
    result = subprocess.run(
        [str(bin_dir() / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "--encoding=UTF8", "--locale=C.UTF-8"],
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
max_connections = 100
shared_buffers = 128MB
fsync = on
timezone = 'UTC'
log_timezone = 'UTC'
"""
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(settings)


def start(data: Path, port: int, log: Path, die_with_parent: bool) -> ProcessRecord:
    record = spawn(
        "postgres",
        [str(bin_dir() / "postgres"), "-D", str(data), "-p", str(port)],
        log,
        user=_run_as(),
        stop_signal=signal.SIGINT,  # "fast" shutdown: do not wait for Debezium's session
        die_with_parent=die_with_parent,
    )
    wait_until("postgres", lambda: _accepts(port), timeout=60, record=record)
    return record


def _accepts(port: int) -> bool:
    try:
        psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres").close()
    except psycopg2.OperationalError:
        return False
    return True


def create_database(port: int) -> None:
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        conn.close()


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
