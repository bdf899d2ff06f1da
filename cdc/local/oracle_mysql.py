"""A private Oracle MySQL server (`cdc local up --mysql oracle`), the server compose runs (mysql:8.4).

No registry reachable here carries MySQL 8.x; Debian carries Oracle MySQL only in its development suite
(sid: `mysql-server-core`, 9.x), built against a newer glibc than Debian 12's. So it is not installed:
its packages and all their dependencies are unpacked into a cache folder (cdc.local.debian_packages)
and mysqld runs through the unpacked dynamic loader with the unpacked libraries.

The cache, shared by every stack of the machine's user: /var/cache/cdc/oracle-mysql as root,
~/.cache/cdc/oracle-mysql otherwise; one folder per server version, used as long as it is there
(delete the cache folder to fetch the suite's current version). The first stack fetches ~65 MB.

--initialize-insecure creates root@localhost without a password; the init file adds
root@127.0.0.1, the account the stack logs in with over TCP (--skip-name-resolve), and
cdc.local.mysql_server gives both the stack's password on the first start.
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cdc.errors import LocalStackError
from cdc.local import debian_packages
from cdc.local.cache import cache_root
from cdc.local.mysql_server import HOST, ROOT, SERVER_OPTIONS, MySqlServer, Progress, answers, server_user
from cdc.local.processes import ProcessRecord, spawn, wait_until

SUITE = "sid"
PACKAGES = ["mysql-server-core", "mysql-client-core"]
SKIP = ("perl", "libperl")  # pulled in by the client's scripts; mysqld needs none of it
READY = ".unpacked"  # written last into a version's folder: its content is complete
CONFIG = "mysql.cnf"
INITIALISED = "mysql.initialised"  # next to the data folder, written once --initialize succeeded


def cache_folder() -> Path:
    return cache_root() / "oracle-mysql"


def _cached(cache: Path) -> Path | None:
    """The newest complete unpacked server in the cache, if any."""
    ready = sorted((marker.parent for marker in cache.glob(f"*/{READY}")), key=lambda path: path.stat().st_mtime)
    return ready[-1] if ready else None


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One fetch at a time per cache (stacks started at once share it)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def server_root(progress: Progress) -> Path:
    """The unpacked server's root folder: from the cache, else fetched and unpacked into it."""
    cache = cache_folder()
    found = _cached(cache)
    if found is not None:
        return found
    with _locked(cache):
        found = _cached(cache)  # fetched by another stack meanwhile
        if found is not None:
            return found
        progress(f"fetching Oracle MySQL ({', '.join(PACKAGES)}) from Debian {SUITE} into {cache} (once)")
        apt = cache / "apt"
        debs = debian_packages.download(PACKAGES, SUITE, apt)
        server_deb = next((deb for deb in debs if deb.name.startswith("mysql-server-core_")), None)
        if server_deb is None:
            raise LocalStackError(f"apt fetched no mysql-server-core package from Debian {SUITE} into {apt}")
        root = cache / debian_packages.version(server_deb)
        shutil.rmtree(root, ignore_errors=True)  # an interrupted unpack
        debian_packages.unpack(debs, root, skip=SKIP)
        (root / READY).write_text(server_deb.name + "\n")
        shutil.rmtree(apt / "cache" / "archives", ignore_errors=True)  # unpacked: the .debs are not needed
        progress(f"Oracle MySQL {root.name} unpacked into {root}")
        return root


def _argv(root: Path, *args: str) -> list[str]:
    """mysqld run by the unpacked loader with the unpacked libraries (not the system's older glibc)."""
    loaders = sorted(root.glob("usr/lib/*-linux-gnu/ld-linux*.so.*"))
    if not loaders:
        raise LocalStackError(f"no dynamic loader (usr/lib/*-linux-gnu/ld-linux*) in {root}; delete {root} "
                              f"and start again to fetch the server anew")
    libs = [loaders[0].parent, root / "lib" / loaders[0].parent.name]
    library_path = ":".join(str(path) for path in libs if path.is_dir())
    return [str(loaders[0]), "--library-path", library_path, str(root / "usr" / "sbin" / "mysqld"), *args]


def _write_config(root: Path, data: Path) -> Path:
    """my.cnf: the unpacked server's own folders, and a small footprint (buffer pool, no performance_schema)."""
    folder = data.parent
    files, tmp = folder / "mysql-files", folder / "mysql-tmp"
    for path in (files, tmp):
        path.mkdir(mode=0o700, exist_ok=True)
    share = root / "usr" / "share" / "mysql"
    lines = [
        "[mysqld]", f"basedir={root / 'usr'}", f"plugin-dir={root / 'usr' / 'lib' / 'mysql' / 'plugin'}",
        f"lc-messages-dir={share}", f"character-sets-dir={share / 'charsets'}", f"datadir={data}",
        f"secure-file-priv={files}", f"tmpdir={tmp}", f"socket={data / 'mysqld.sock'}",
        f"pid-file={data / 'mysqld.pid'}", f"bind-address={HOST}", "mysqlx=OFF", f"user={server_user()}",
        "innodb_buffer_pool_size=256M", "performance_schema=OFF",
    ]
    path = folder / CONFIG
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare(data: Path, logs: Path, progress: Progress) -> None:
    root = server_root(progress)
    config = _write_config(root, data)
    done = data.parent / INITIALISED
    if done.exists():
        return
    progress(f"initialising Oracle MySQL {root.name} data folder")
    shutil.rmtree(data, ignore_errors=True)  # --initialize wants an empty folder: what is left of a failed one
    init = data.parent / "mysql-init.sql"
    init.write_text(f"CREATE USER '{ROOT}'@'{HOST}';\nGRANT ALL ON *.* TO '{ROOT}'@'{HOST}' WITH GRANT OPTION;\n")
    result = subprocess.run(_argv(root, f"--defaults-file={config}", "--initialize-insecure", f"--init-file={init}"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (logs / "mysql-initialize.log").write_text(result.stdout)
    if result.returncode != 0:
        shutil.rmtree(data, ignore_errors=True)
        raise LocalStackError(f"mysqld --initialize-insecure failed:\n{result.stdout[-2000:]}")
    done.write_text(root.name + "\n")


def start(data: Path, port: int, log: Path, die_with_parent: bool, password: str) -> ProcessRecord:
    root = server_root(lambda message: None)
    config = _write_config(root, data)
    record = spawn("mysql", _argv(root, f"--defaults-file={config}", f"--port={port}", *SERVER_OPTIONS), log,
                   die_with_parent=die_with_parent)
    wait_until("mysql", lambda: answers(port, password), timeout=60, record=record)
    return record


SERVER = MySqlServer(kind="oracle", part="mysql", label="Oracle MySQL", prepare=prepare, start=start)
