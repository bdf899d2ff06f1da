"""What the stack's MySQL-protocol servers share (MariaDB and Oracle MySQL): the options compose's `mysql`
service runs with, the root accounts' password, the stack's database and its URL.

Each server's own module (cdc.local.mariadb, cdc.local.oracle_mysql) initialises a data folder and starts
the server; a fresh data folder has root accounts without a password, reachable over TCP from 127.0.0.1,
and the first start gives every root account the stack's password and drops the anonymous ones and
those by host name, which --skip-name-resolve leaves unusable (require_root_password).
"""
from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pymysql
from pymysql.cursors import Cursor

from cdc.errors import LocalStackError
from cdc.local.processes import ProcessRecord
from core.limits import MYSQL_MAX_ALLOWED_PACKET
from core.mysql import error_code
from core.settings import DatabaseUrl, MySqlSettings

DATABASE = "shop"
HOST = "127.0.0.1"
ROOT = "root"
ACCESS_DENIED = 1045
OPERATION_FAILED = 1396  # ER_CANNOT_USER: ALTER/DROP USER of an account the server does not know
# As docker-compose.yml's `mysql` service (its `command`), for both servers.
SERVER_OPTIONS = (
    "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci", "--default-time-zone=+00:00",
    f"--max-allowed-packet={MYSQL_MAX_ALLOWED_PACKET}", "--max-connections=200", "--skip-name-resolve",
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MySqlServer:
    """One kind of server the stack can run as its MySQL (`cdc local up --mysql KIND`)."""

    kind: str  # the --mysql choice
    part: str  # the stack's part: its process, data folder, port and password are recorded under this name
    label: str
    # prepare(data folder, logs folder, progress): the server's files present and the data folder initialised.
    prepare: Callable[[Path, Path, Progress], None]
    # start(data folder, port, log, die_with_parent, root password): running and answering logins.
    start: Callable[[Path, int, Path, bool, str], ProcessRecord]


def server_user() -> str:
    """The account the server runs as: this one (a server refuses to run as root unless told to)."""
    return "root" if os.geteuid() == 0 else getpass.getuser()


def _connect_root(port: int, password: str) -> pymysql.connections.Connection:
    return pymysql.connect(host=HOST, port=port, user=ROOT, password=password, autocommit=True, connect_timeout=2)


def answers(port: int, password: str) -> bool:
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
        raise LocalStackError(f"MySQL on port {port} refuses root both with the stack's password and without "
                              f"one ({exc}); was the stack's state (stack.json) replaced?") from exc
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            (current,) = cur.fetchone()
            cur.execute("SELECT User, Host FROM mysql.user WHERE User IN (%s, '')", (ROOT,))
            # This connection's own account last: if this is interrupted, the next start does it all again.
            accounts = sorted(cur.fetchall(), key=lambda account: (account[0] == ROOT, "@".join(account) == current))
            edited = [_secure_account(cur, user, host, password) for user, host in accounts]
            if any(edited):
                cur.execute("FLUSH PRIVILEGES")  # only for a grant table edited by hand (deprecated in MySQL 8.4)
    finally:
        conn.close()
    return True


def _secure_account(cur: Cursor, user: str, host: str, password: str) -> bool:
    """Root gets the password, an anonymous account goes; an account by host name goes too, straight from
    the grant table (True then): --skip-name-resolve makes MariaDB ignore it, and ALTER and DROP USER with it."""
    try:
        if user:
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
        else:
            cur.execute("DROP USER %s@%s", (user, host))
        return False
    except pymysql.err.OperationalError as exc:
        if error_code(exc) != OPERATION_FAILED:
            raise
        cur.execute("DELETE FROM mysql.global_priv WHERE User = %s AND Host = %s", (user, host))
        return True


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
