"""A private MariaDB instance (MySQL wire protocol) for the replica and the marts."""
from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path

import pymysql

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord, spawn, wait_until
from core.limits import MYSQL_MAX_ALLOWED_PACKET

DATABASE = "shop"


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if not found:
        raise LocalStackError(f"{name} not found; install it: apt-get install mariadb-server")
    return found


def _user() -> str:
    return "root" if os.geteuid() == 0 else getpass.getuser()


def init_datadir(data: Path, log: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", f"--user={_user()}",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    log.write_text(result.stdout)
    if result.returncode != 0:
        raise LocalStackError(f"mariadb-install-db failed:\n{result.stdout[-2000:]}")


def start(data: Path, port: int, log: Path, die_with_parent: bool) -> ProcessRecord:
    record = spawn(
        "mariadb",
        [
            _binary("mariadbd"), "--no-defaults", f"--datadir={data}", f"--user={_user()}",
            f"--port={port}", f"--socket={data / 'mysqld.sock'}", "--bind-address=127.0.0.1",
            f"--pid-file={data / 'mysqld.pid'}", "--skip-name-resolve",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            "--default-time-zone=+00:00", "--innodb-buffer-pool-size=256M",
            "--max-connections=200", f"--max-allowed-packet={MYSQL_MAX_ALLOWED_PACKET}",
        ],
        log,
        die_with_parent=die_with_parent,
    )
    wait_until("mariadb", lambda: _accepts(port), timeout=60, record=record)
    return record


def _accepts(port: int) -> bool:
    try:
        pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=2).close()
    except pymysql.err.OperationalError:
        return False
    return True


def create_database(port: int) -> None:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()


def url(port: int) -> str:
    return f"mysql://root@127.0.0.1:{port}/{DATABASE}"
