"""Our two changes to Debezium 3.1.1, compiled once into a jar that goes first on Kafka Connect's classpath.

- Our fix: Debezium 3.1.1 renumbers the rest of a transaction it resumes in the middle of (dbz#633; see
  PostgresTransactionMonitor.java under java/). Under that renumbering the transaction assembly
  (core.transactions) cannot tell the copies of one transaction's events apart, and a Connect or
  PostgreSQL restart under load lost rows from the replica and the marts.
- Its ChangeEventQueue, whose poll() spun through the last millisecond of every poll interval (see
  ChangeEventQueue.java): about 6 % of a core per idle Connect (bench/idle_cpu.py).

No wheel brings a fixed Debezium with a Kafka Connect that runs here, so the local stack runs 3.1.1 with
these two classes replaced. Compose's Connect image has the same classes put inside Debezium's own jars
instead (docker/connect/patch-debezium.sh, which compiles them the same way: its test checks the classes match).

The jar is built with javac (openjdk-17-jdk-headless) against the jars it patches, into the user's
cache (one per source and Debezium version: a changed source builds a new one).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from cdc.errors import LocalStackError
from cdc.local.cache import cache_root

SOURCES = Path(__file__).with_name("java")


def sources() -> list[Path]:
    return sorted(SOURCES.rglob("*.java"))


def patch_jar(classpath: Sequence[str], cache: Path | None = None) -> Path:
    """The jar of the compiled sources, built now unless the cache (default: the user's) has it."""
    folder = (cache or cache_root()) / "debezium-patch"
    jar = folder / f"cdc-debezium-patch-{_fingerprint(classpath)}.jar"
    if not jar.exists():  # kept forever (a few KB): another checkout's Connect may be about to load its own
        _build(jar, classpath)
    return jar


def _fingerprint(classpath: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for source in sources():
        digest.update(source.relative_to(SOURCES).as_posix().encode())
        digest.update(source.read_bytes())
    for entry in classpath:  # the jars compiled against, by name (their versions are in the names)
        digest.update(Path(entry).name.encode())
    return digest.hexdigest()[:16]


def _build(jar: Path, classpath: Sequence[str]) -> None:
    javac = shutil.which("javac")
    if javac is None:
        raise LocalStackError("javac not found (the local stack compiles its Debezium fix): "
                              "apt-get install openjdk-17-jdk-headless")
    try:
        jar.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalStackError(f"cannot make the cache folder for the Debezium fix: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="cdc-debezium-patch-") as work:
        classes = Path(work) / "classes"
        compiled = subprocess.run(
            [javac, "-nowarn", "--release", "17", "-d", str(classes), "-cp", ":".join(classpath),
             *map(str, sources())],
            capture_output=True, text=True,
        )
        if compiled.returncode != 0:
            raise LocalStackError(f"javac could not compile the Debezium fix ({SOURCES}):\n{compiled.stderr[-3000:]}")
        try:
            _write_jar(jar, classes)
        except OSError as exc:
            raise LocalStackError(f"cannot write the Debezium fix's jar {jar}: {exc}") from None


def _write_jar(jar: Path, classes: Path) -> None:
    """Whole or absent, also for two stacks building it at once."""
    handle, name = tempfile.mkstemp(dir=jar.parent, prefix=jar.stem, suffix=".partial")
    partial = Path(name)
    try:
        with os.fdopen(handle, "wb") as file, zipfile.ZipFile(file, "w") as archive:
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        os.replace(partial, jar)
    finally:
        partial.unlink(missing_ok=True)

