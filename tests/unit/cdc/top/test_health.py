"""`cdc top`'s verdict and rows, from expositions made by the workers' and exporter's own metric registrations."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest

from cdc.top.health import Level, Reading, Report, StageRow, assess, format_bytes
from cdc.top.scrape import Scrape, Snapshot, parse
from cdc.top.settings import Limits
from core.metrics import register_exporter_metrics, register_worker_metrics

NOW = 1_800_000_000.0  # the workers' clock (unix seconds)
MARTS = ("sales_by_category", "user_activity")
LIMITS = Limits(max_lag_seconds=60, max_wal_bytes=1024**3)
CONNECTOR = "shop-postgres"
SLOT = "cdc_shop"


@dataclass
class Worker:
    """What one worker's endpoint would export."""

    applied: int = 10
    commit_age: float | None = 2.0  # seconds since the last applied change's source commit; None: nothing applied
    dead_letters: int = 0
    write_retries: int = 0
    paused: bool = False
    schema_paused: bool = False  # the marts only
    lag: dict[tuple[str, int], int] = field(default_factory=lambda: {("shop.public.orders", 0): 3})

    def exposition(self, stage: str) -> str:
        registry = CollectorRegistry()
        metrics = register_worker_metrics(registry, stage, MARTS if stage == "marts" else (), clock=lambda: NOW)
        if self.commit_age is not None:
            metrics.applied(self.applied, [NOW - self.commit_age], NOW)
        if self.dead_letters:
            metrics.dead_letters.inc(self.dead_letters)
        if self.write_retries:
            metrics.write_retries.inc(self.write_retries)
        metrics.paused.set(1 if self.paused else 0)
        if metrics.marts_paused is not None:
            metrics.marts_paused.set(1 if self.schema_paused else 0)
        metrics.set_consumer_lag(self.lag)
        return generate_latest(registry).decode()


@dataclass
class Exporter:
    connector: str | None = "RUNNING"  # None: exports no connector state
    tasks: dict[int, str] = field(default_factory=lambda: {0: "RUNNING"})
    wal_bytes: float = 4096
    slot_active: bool = True
    postgres_errors: int = 0

    def exposition(self) -> str:
        registry = CollectorRegistry()
        metrics = register_exporter_metrics(registry)
        if self.connector is not None:
            metrics.set_connector_state(CONNECTOR, self.connector)
            metrics.set_task_states(CONNECTOR, self.tasks)
        metrics.slot_retained_wal.labels(SLOT).set(self.wal_bytes)
        metrics.slot_active.labels(SLOT).set(1 if self.slot_active else 0)
        if self.postgres_errors:
            metrics.scrape_errors.labels("postgres").inc(self.postgres_errors)
        return generate_latest(registry).decode()


def scrape(endpoint: str, text: str | None) -> Scrape:
    url = f"http://127.0.0.1:1/{endpoint}"
    return Scrape(endpoint, url, parse(text)) if text is not None else Scrape(endpoint, url, error="Connection refused")


def snapshot(at: float, replica: Worker | None = None, marts: Worker | None = None,
             exporter: Exporter | None = None, down: tuple[str, ...] = ()) -> Snapshot:
    texts = {
        "consumer": (replica or Worker()).exposition("replica"),
        "marts": (marts or Worker()).exposition("marts"),
        "exporter": (exporter or Exporter()).exposition(),
    }
    return Snapshot(at, {endpoint: scrape(endpoint, None if endpoint in down else text)
                         for endpoint, text in texts.items()})


def judge(after: Snapshot, before: Snapshot | None = None) -> Report:
    return assess(before if before is not None else snapshot(100.0), after, LIMITS)


def stage(report: Report, name: str) -> StageRow:
    return next(row for row in report.stages if row.stage == name)


def test_a_running_pipeline_is_healthy() -> None:
    report = judge(snapshot(102.0))

    assert report.problems == ()
    assert report.healthy


def test_the_rate_is_the_changes_applied_between_the_scrapes_per_second() -> None:
    report = judge(snapshot(102.0, replica=Worker(applied=110)), before=snapshot(100.0, replica=Worker(applied=10)))

    assert stage(report, "replica").rate == Reading(50.0)


def test_a_restarted_worker_counts_its_changes_from_zero() -> None:
    report = judge(snapshot(102.0, replica=Worker(applied=6)), before=snapshot(100.0, replica=Worker(applied=500)))

    assert stage(report, "replica").rate == Reading(3.0)


def test_without_an_earlier_snapshot_the_rate_is_unknown() -> None:
    report = assess(None, snapshot(100.0), LIMITS)

    assert stage(report, "replica").rate == Reading(None)
    assert report.healthy


def test_lag_in_messages_is_summed_over_the_partitions() -> None:
    worker = Worker(lag={("shop.public.orders", 0): 3, ("shop.public.orders", 1): 4, ("shop.public.users", 0): 0})

    assert stage(judge(snapshot(102.0, replica=worker)), "replica").lag_messages == Reading(7.0)


def test_replica_lag_is_the_seconds_since_the_last_applied_changes_source_commit() -> None:
    assert stage(judge(snapshot(102.0, replica=Worker(commit_age=12.5))), "replica").lag_seconds == Reading(12.5)


def test_replica_lag_above_the_limit_fails() -> None:
    report = judge(snapshot(102.0, replica=Worker(commit_age=75.0)))

    assert report.problems == ("replica lag 75 s is above 60 s",)
    assert stage(report, "replica").lag_seconds.level is Level.FAIL


def test_replica_lag_at_the_limit_is_healthy() -> None:
    assert judge(snapshot(102.0, replica=Worker(commit_age=60.0))).healthy


def test_a_stage_that_applied_nothing_yet_is_a_note_not_a_failure() -> None:
    report = judge(snapshot(102.0, replica=Worker(commit_age=None)))

    assert report.healthy
    assert report.notes == ("replica has applied no change yet",)
    assert stage(report, "replica").lag_seconds == Reading(None, Level.WARN)


def test_each_mart_shows_its_freshness() -> None:
    report = judge(snapshot(102.0, marts=Worker(commit_age=4.0)))

    assert [(row.mart, row.freshness) for row in report.marts] == [
        ("sales_by_category", Reading(4.0)), ("user_activity", Reading(4.0))]


def test_marts_behind_the_limit_fail_each_by_name() -> None:
    report = judge(snapshot(102.0, marts=Worker(commit_age=90.0)))

    assert report.problems == ("mart sales_by_category is 90 s behind the source (above 60 s)",
                               "mart user_activity is 90 s behind the source (above 60 s)")


def test_an_endpoint_that_does_not_answer_fails() -> None:
    report = judge(snapshot(102.0, down=("marts",)))

    assert report.problems == (
        "marts metrics endpoint http://127.0.0.1:1/marts does not answer: Connection refused",)
    assert stage(report, "marts").up is False
    assert report.marts == ()


def test_a_failed_connector_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(connector="FAILED", tasks={})))

    assert report.problems == ("connector shop-postgres is FAILED",)
    assert [(row.connector, row.task, row.state, row.level) for row in report.connectors] == [
        ("shop-postgres", "", "FAILED", Level.FAIL)]


def test_a_failed_task_of_a_running_connector_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(tasks={0: "FAILED"})))

    assert report.problems == ("connector shop-postgres task 0 is FAILED",)
    assert [(row.task, row.state, row.level) for row in report.connectors] == [
        ("", "RUNNING", Level.OK), ("0", "FAILED", Level.FAIL)]


def test_a_missing_connector_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(connector="MISSING", tasks={})))

    assert report.problems == ("connector shop-postgres does not exist (MISSING)",)


def test_a_running_connector_without_a_task_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(tasks={})))

    assert report.problems == ("connector shop-postgres has no task",)


def test_an_exporter_that_reports_no_connector_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(connector=None)))

    assert report.problems == ("the exporter reports no connector state",)


def test_an_exporter_that_failed_to_read_since_the_last_scrape_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(postgres_errors=3)),
                   before=snapshot(100.0, exporter=Exporter(postgres_errors=2)))

    assert report.problems == ("the exporter failed to read postgres (its readings may be stale)",)


def test_old_exporter_errors_are_not_a_failure() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(postgres_errors=2)),
                   before=snapshot(100.0, exporter=Exporter(postgres_errors=2)))

    assert report.healthy


def test_marts_paused_at_a_source_schema_change_fail_and_say_so() -> None:
    report = judge(snapshot(102.0, marts=Worker(schema_paused=True)))

    assert report.problems == ("marts paused at a source schema change of a column they read: see its log",)
    assert stage(report, "marts").paused == Reading(1.0, Level.FAIL)


def test_a_paused_stage_fails() -> None:
    report = judge(snapshot(102.0, marts=Worker(paused=True)))

    assert report.problems == ("marts is paused: its MySQL writes fail and it waits to retry",)
    assert stage(report, "marts").paused == Reading(1.0, Level.FAIL)


def test_new_dead_letters_fail() -> None:
    report = judge(snapshot(102.0, replica=Worker(dead_letters=5)), before=snapshot(100.0, replica=Worker(dead_letters=3)))

    assert report.problems == ("replica dead-lettered 2 new messages",)
    assert stage(report, "replica").new_dead_letters == Reading(2.0, Level.FAIL)


def test_dead_letters_from_before_are_a_note_not_a_failure() -> None:
    report = judge(snapshot(102.0, replica=Worker(dead_letters=3)), before=snapshot(100.0, replica=Worker(dead_letters=3)))

    assert report.healthy
    assert report.notes == ("replica dead-lettered 3 messages since it started",)
    assert stage(report, "replica").dead_letters == Reading(3.0, Level.WARN)


def test_new_write_retries_are_a_note_not_a_failure() -> None:
    report = judge(snapshot(102.0, marts=Worker(write_retries=4)), before=snapshot(100.0, marts=Worker(write_retries=1)))

    assert report.healthy
    assert report.notes == ("marts retried MySQL writes",)
    assert stage(report, "marts").write_retries == Reading(4.0, Level.WARN)


def test_a_slot_retaining_more_wal_than_the_limit_fails() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(wal_bytes=1.5 * 1024**3)))

    assert report.problems == ("replication slot cdc_shop retains 1.5 GiB of WAL (above 1.0 GiB)",)
    assert report.slots[0].retained_wal_bytes == Reading(1.5 * 1024**3, Level.FAIL)


def test_a_slot_no_client_streams_from_is_a_note() -> None:
    report = judge(snapshot(102.0, exporter=Exporter(slot_active=False)))

    assert report.healthy
    assert report.notes == ("no client streams from replication slot cdc_shop",)


def test_problems_of_several_parts_are_all_listed() -> None:
    report = judge(snapshot(102.0, replica=Worker(paused=True), exporter=Exporter(tasks={0: "FAILED"}), down=("marts",)))

    assert report.problems == (
        "marts metrics endpoint http://127.0.0.1:1/marts does not answer: Connection refused",
        "connector shop-postgres task 0 is FAILED",
        "replica is paused: its MySQL writes fail and it waits to retry",
    )


def test_bytes_are_shown_in_binary_units() -> None:
    assert [format_bytes(value) for value in (512, 1536, 5 * 1024**2, 3 * 1024**3, 2048 * 1024**3)] == [
        "512 B", "1.5 KiB", "5.0 MiB", "3.0 GiB", "2048.0 GiB"]
