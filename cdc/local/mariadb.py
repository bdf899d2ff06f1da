"""A private MariaDB instance (MySQL wire protocol) for the replica and the marts.

mariadb-install-db (--auth-root-authentication-method=normal) creates root
accounts without a password (localhost, 127.0.0.1, ::1, the host name) and
anonymous accounts; the first start gives every root account the stack's
password and drops the anonymous ones and those by host name, which
--skip-name-resolve leaves unusable (require_root_password).
"""
from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path

import pymysql
from pymysql.cursors import Cursor

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord, spawn, wait_until
from core.limits import MYSQL_MAX_ALLOWED_PACKET
from core.mysql import error_code
from core.settings import DatabaseUrl, MySqlSettings

DATABASE = "shop"
HOST = "127.0.0.1"
ROOT = "root"
ACCESS_DENIED = 1045
OPERATION_FAILED = 1396  # ER_CANNOT_USER: ALTER/DROP USER of an account the server does not know


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


def start(data: Path, port: int, log: Path, die_with_parent: bool, password: str) -> ProcessRecord:
    data.chmod(0o700)  # the tables' files, for the server's user only (mariadb-install-db leaves it 0755)
    # Its own folder for on-disk temporary tables (a big GROUP BY): not the shared /tmp, where other
    # programs' clean-ups can delete them under a running query.
    tmp = data.parent / "mariadb-tmp"
    tmp.mkdir(mode=0o700, exist_ok=True)
    record = spawn(
        "mariadb",
        [
            _binary("mariadbd"), "--no-defaults", f"--datadir={data}", f"--user={_user()}",
            f"--port={port}", f"--socket={data / 'mysqld.sock'}", f"--bind-address={HOST}",
            f"--pid-file={data / 'mysqld.pid'}", f"--tmpdir={tmp}", "--skip-name-resolve",
            "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            "--default-time-zone=+00:00", "--innodb-buffer-pool-size=256M",
            "--max-connections=200", f"--max-allowed-packet={MYSQL_MAX_ALLOWED_PACKET}",
        ],
        log,
        die_with_parent=die_with_parent,
    )
    wait_until("mariadb", lambda: _answers(port, password), timeout=60, record=record)
    return record


def _connect_root(port: int, password: str) -> pymysql.connections.Connection:
    return pymysql.connect(host=HOST, port=port, user=ROOT, password=password, autocommit=True, connect_timeout=2)


def _answers(port: int, password: str) -> bool:
    """Up once it answers a login: access denied too, for a first start (root has no password yet)."""
    try:
        _connect_root(port, password).close()
    except pymysql.err.OperationalError as exc:
        return error_code(exc) == ACCESS_DENIED
    return True


def require_root_password(port: int, password: str) -> bool:
    """Give every root account `password` and drop the anonymous accounts, unless root has it already
    (True if it had to: the first start of a data folder, or one from before the stack had passwords)."""
    try:
        _connect_root(port, password).close()
        return False
    except pymysql.err.OperationalError as exc:
        if error_code(exc) != ACCESS_DENIED:
            raise
    try:
        conn = _connect_root(port, "")
    except pymysql.err.OperationalError as exc:
        raise LocalStackError(f"MariaDB on port {port} refuses root both with the stack's password and without "
                              f"one ({exc}); was the stack's state (stack.json) replaced?") from exc
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            (current,) = cur.fetchone()
            cur.execute("SELECT User, Host FROM mysql.user WHERE User IN (%s, '')", (ROOT,))
            # This connection's own account last: if this is interrupted, the next start does it all again.
            accounts = sorted(cur.fetchall(), key=lambda account: (account[0] == ROOT, "@".join(account) == current))
            for user, host in accounts:
                _secure_account(cur, user, host, password)
            cur.execute("FLUSH PRIVILEGES")
    finally:
        conn.close()
    return True


def _secure_account(cur: Cursor, user: str, host: str, password: str) -> None:
    """Root gets the password, an anonymous account goes; an account by host name goes too, straight from
    the grant table: --skip-name-resolve makes the server ignore it, and ALTER and DROP USER with it."""
    try:
        if user:
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
        else:
            cur.execute("DROP USER %s@%s", (user, host))
    except pymysql.err.OperationalError as exc:
        if error_code(exc) != OPERATION_FAILED:
            raise
        cur.execute("DELETE FROM mysql.global_priv WHERE User = %s AND Host = %s", (user, host))


def create_database(port: int, password: str) -> None:
    conn = _connect_root(port, password)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    finally:
        conn.close()


def url(port: int, password: str) -> str:
    """MYSQL_URL: the stack's database, as root."""
    return MySqlSettings(DatabaseUrl(host=HOST, port=port, user=ROOT, database=DATABASE, password=password)).to_url()
