"""A private MariaDB instance (MySQL wire protocol) for the replica and the marts: the stack's default MySQL.

mariadb-install-db (--auth-root-authentication-method=normal) creates root
accounts without a password (localhost, 127.0.0.1, ::1, the host name) and
anonymous accounts; cdc.local.mysql_server secures them on the first start.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cdc.errors import LocalStackError
from cdc.local.mysql_server import HOST, SERVER_OPTIONS, MySqlServer, Progress, answers, server_user
from cdc.local.processes import ProcessRecord, spawn, wait_until


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if not found:
        raise LocalStackError(f"{name} not found; install it: apt-get install mariadb-server")
    return found


def prepare(data: Path, logs: Path, progress: Progress) -> None:
    if (data / "mysql").exists():
        return
    progress("initialising MariaDB data folder")
    data.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", f"--user={server_user()}",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    (logs / "mariadb-install.log").write_text(result.stdout)
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
            _binary("mariadbd"), "--no-defaults", f"--datadir={data}", f"--user={server_user()}",
            f"--port={port}", f"--socket={data / 'mysqld.sock'}", f"--bind-address={HOST}",
            f"--pid-file={data / 'mysqld.pid'}", f"--tmpdir={tmp}", "--innodb-buffer-pool-size=256M",
            *SERVER_OPTIONS,
        ],
        log,
        die_with_parent=die_with_parent,
    )
    wait_until("mariadb", lambda: answers(port, password), timeout=60, record=record)
    return record


SERVER = MySqlServer(kind="mariadb", part="mariadb", label="MariaDB", prepare=prepare, start=start)
