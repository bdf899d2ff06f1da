"""A whole local stack of a test module's own, with both workers (the production layout: the replica and the
marts in the stack's one MySQL database), on a source that only the generator and the test write."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from cdc.local import stack as local_stack
from core.settings import KafkaSettings
from core.topic_names import source_topics
from core.topics import topic_partitions
from tests.support.cli import run_cdc
from tests.support.stack import stack_folder

VERIFY_WAIT = "180"


@contextmanager
def own_pipeline(prefix: str, workers: bool = True) -> Iterator[Path]:
    """The folder of a running stack with its consumer and marts worker (unless not `workers`: the test
    runs its own, with worker_env); stopped and removed afterwards."""
    with stack_folder(prefix) as folder:
        local_stack.up(folder, die_with_parent=True, infra_only=not workers)
        yield folder


def env_of(folder: Path) -> dict[str, str]:
    return dict(local_stack.StackState.load(folder).env)


def worker_env(folder: Path) -> dict[str, str]:
    """What the stack gives its own workers (stack.env, the marts' data folder)."""
    return dict(local_stack.StackState.load(folder).worker_env())


def source(folder: Path, *statements: str) -> None:
    """The statements in one source transaction."""
    conn = psycopg2.connect(env_of(folder)["PG_DSN"])
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def seed(env: dict[str, str], *args: str) -> None:
    """`cdc generate seed ARGS`; the test fails unless it succeeds."""
    result = run_cdc("generate", "seed", *args, env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def assert_exact(env: dict[str, str]) -> None:
    """Until `cdc verify` finds the replica and both marts equal to the source (the test fails after 180 s)."""
    result = run_cdc("verify", "--wait", VERIFY_WAIT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def source_partitions(env: dict[str, str]) -> dict[str, int]:
    """Each source topic's partition count."""
    kafka = KafkaSettings.from_env(env)
    return {topic: len(partitions)
            for topic, partitions in topic_partitions(kafka.bootstrap, source_topics(kafka.topic_prefix)).items()}
