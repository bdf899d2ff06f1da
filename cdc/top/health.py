"""Two snapshots of the pipeline's metrics -> the rows `cdc top` shows and the verdict (pure: no I/O, no clock).

Failing (exit 1 of `cdc top --once`, red):
- a metrics endpoint does not answer;
- the connector is not RUNNING (MISSING: it does not exist), a task is not RUNNING, or it has no task;
  the exporter reports no connector at all, or failed to read PostgreSQL or Kafka Connect since the last scrape;
- a stage is paused (its MySQL writes fail, or the marts stopped at a source schema change: cdc_marts_paused);
- the replica lag or a mart's freshness is above Limits.max_lag_seconds;
- a stage dead-lettered messages since the last scrape (changes that did not reach MySQL);
- a replication slot retains more WAL than Limits.max_wal_bytes.
Worth a look but not failing (yellow): no change applied yet (lag unknown), dead letters from before, write
retries since the last scrape (transient MySQL trouble), a slot no client streams from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from cdc.top.scrape import Sample, Scrape, Snapshot
from cdc.top.settings import CONSUMER, EXPORTER, MARTS, Limits
from core.metrics import (
    CHANGES_APPLIED_TOTAL,
    CONNECTOR_STATE,
    CONNECTOR_TASK_STATE,
    CONSUMER_LAG_MESSAGES,
    DEAD_LETTERS_TOTAL,
    EXPORTER_SCRAPE_ERRORS_TOTAL,
    MART_FRESHNESS_SECONDS,
    MARTS_PAUSED,
    MISSING,
    PAUSED,
    REPLICA_LAG_SECONDS,
    SLOT_ACTIVE,
    SLOT_RETAINED_WAL_BYTES,
    STAGE_MARTS,
    STAGE_REPLICA,
    WRITE_RETRIES_TOTAL,
    Metric,
)

RUNNING = "RUNNING"
# The endpoint that exports each stage's metrics.
STAGE_ENDPOINTS = {STAGE_REPLICA: CONSUMER, STAGE_MARTS: MARTS}


class Level(Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Reading:
    """A value as shown; None when unknown (its endpoint is down, or a rate without an earlier scrape)."""

    value: float | None
    level: Level = Level.OK


UNKNOWN = Reading(None)


@dataclass(frozen=True)
class EndpointRow:
    endpoint: str
    url: str
    error: str  # empty when it answered

    @property
    def level(self) -> Level:
        return Level.FAIL if self.error else Level.OK


@dataclass(frozen=True)
class StageRow:
    stage: str
    up: bool  # its endpoint answered
    rate: Reading  # changes applied per second since the earlier scrape
    lag_messages: Reading  # summed over the partitions
    lag_seconds: Reading  # replica: its lag; marts: the stalest mart's freshness
    dead_letters: Reading  # in total
    new_dead_letters: Reading  # since the earlier scrape
    write_retries: Reading  # in total; WARN when some happened since the earlier scrape
    paused: Reading
    schema_paused: bool = False  # the marts stopped at a source schema change (marts.pause)


@dataclass(frozen=True)
class MartRow:
    mart: str
    freshness: Reading


@dataclass(frozen=True)
class ConnectorRow:
    connector: str
    task: str  # "" for the connector itself
    state: str
    level: Level


@dataclass(frozen=True)
class SlotRow:
    slot: str
    retained_wal_bytes: Reading
    active: Reading


@dataclass(frozen=True)
class Report:
    endpoints: tuple[EndpointRow, ...]
    stages: tuple[StageRow, ...]
    marts: tuple[MartRow, ...]
    connectors: tuple[ConnectorRow, ...]
    slots: tuple[SlotRow, ...]
    problems: tuple[str, ...]  # one line each; none means healthy
    notes: tuple[str, ...]  # worth a look, not failing

    @property
    def healthy(self) -> bool:
        return not self.problems


def assess(before: Snapshot | None, after: Snapshot, limits: Limits) -> Report:
    """`after` judged on its own, and against `before` (an earlier snapshot) for rates and what is new."""
    endpoints = tuple(EndpointRow(scrape.endpoint, scrape.url, scrape.error) for scrape in after.scrapes.values())
    problems = [f"{row.endpoint} metrics endpoint {row.url} does not answer: {row.error}"
                for row in endpoints if row.error]
    notes: list[str] = []
    connectors: tuple[ConnectorRow, ...] = ()
    slots: tuple[SlotRow, ...] = ()
    exporter = after.scrapes.get(EXPORTER)
    if exporter is not None and exporter.up:
        connectors = _connector_rows(exporter)
        slots = _slot_rows(exporter, limits)
        problems += _connector_problems(connectors)
        problems += _exporter_errors(_earlier(before, EXPORTER), exporter)
        problems += _slot_problems(slots, limits)
        notes += [f"no client streams from replication slot {row.slot}"
                  for row in slots if row.active.level is Level.WARN]
    stages = tuple(_stage_row(stage, before, after, limits) for stage in STAGE_ENDPOINTS)
    for row in stages:
        problems += _stage_problems(row, limits)
        notes += _stage_notes(row)
    marts_scrape = after.scrapes.get(MARTS)
    marts = _mart_rows(marts_scrape, limits) if marts_scrape is not None and marts_scrape.up else ()
    problems += [f"mart {row.mart} is {row.freshness.value:.0f} s behind the source "
                 f"(above {limits.max_lag_seconds:g} s)" for row in marts if row.freshness.level is Level.FAIL]
    return Report(endpoints, stages, marts, connectors, slots, tuple(problems), tuple(notes))


# --- the stages ---------------------------------------------------------------------------------

def _stage_row(stage: str, before: Snapshot | None, after: Snapshot, limits: Limits) -> StageRow:
    scrape = after.scrapes.get(STAGE_ENDPOINTS[stage])
    if scrape is None or not scrape.up:
        return StageRow(stage, False, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)
    earlier = _earlier(before, STAGE_ENDPOINTS[stage])
    seconds = after.at - before.at if before is not None else 0.0
    applied = _increase(earlier, scrape, CHANGES_APPLIED_TOTAL, stage)
    new_letters = _increase(earlier, scrape, DEAD_LETTERS_TOTAL, stage)
    new_retries = _increase(earlier, scrape, WRITE_RETRIES_TOTAL, stage)
    letters = _total(scrape, DEAD_LETTERS_TOTAL, stage)
    schema_paused = any(sample.value for sample in scrape.named(MARTS_PAUSED.name))
    paused = 1.0 if schema_paused else _total(scrape, PAUSED, stage)
    return StageRow(
        stage=stage,
        up=True,
        rate=Reading(applied / seconds if applied is not None and seconds > 0 else None),
        lag_messages=Reading(_total(scrape, CONSUMER_LAG_MESSAGES, stage)),
        lag_seconds=_lag(_stage_lag_seconds(scrape, stage), limits),
        dead_letters=Reading(letters, Level.WARN if letters else Level.OK),
        new_dead_letters=Reading(new_letters, Level.FAIL if new_letters else Level.OK),
        write_retries=Reading(_total(scrape, WRITE_RETRIES_TOTAL, stage), Level.WARN if new_retries else Level.OK),
        paused=Reading(paused, Level.FAIL if paused else Level.OK),
        schema_paused=schema_paused,
    )


def _stage_lag_seconds(scrape: Scrape, stage: str) -> float | None:
    if stage == STAGE_REPLICA:
        values = [sample.value for sample in scrape.named(REPLICA_LAG_SECONDS.name)]
    else:
        values = [sample.value for sample in scrape.named(MART_FRESHNESS_SECONDS.name)]
    known = [value for value in values if not math.isnan(value)]
    return max(known) if known else None


def _lag(seconds: float | None, limits: Limits) -> Reading:
    if seconds is None:
        return Reading(None, Level.WARN)  # nothing applied yet
    return Reading(seconds, Level.FAIL if seconds > limits.max_lag_seconds else Level.OK)


def _stage_problems(row: StageRow, limits: Limits) -> list[str]:
    problems = []
    if row.schema_paused:
        problems.append(f"{row.stage} paused at a source schema change of a column they read: see its log")
    elif row.paused.level is Level.FAIL:
        problems.append(f"{row.stage} is paused: its MySQL writes fail and it waits to retry")
    if row.stage == STAGE_REPLICA and row.lag_seconds.level is Level.FAIL:
        problems.append(f"replica lag {row.lag_seconds.value:.0f} s is above {limits.max_lag_seconds:g} s")
    if row.new_dead_letters.level is Level.FAIL:
        problems.append(f"{row.stage} dead-lettered {row.new_dead_letters.value:.0f} new messages")
    return problems


def _stage_notes(row: StageRow) -> list[str]:
    notes = []
    if row.up and row.lag_seconds.value is None:
        notes.append(f"{row.stage} has applied no change yet")
    if row.dead_letters.level is Level.WARN and row.new_dead_letters.level is Level.OK:
        notes.append(f"{row.stage} dead-lettered {row.dead_letters.value:.0f} messages since it started")
    if row.write_retries.level is Level.WARN:
        notes.append(f"{row.stage} retried MySQL writes")
    return notes


def _mart_rows(scrape: Scrape, limits: Limits) -> tuple[MartRow, ...]:
    return tuple(MartRow(sample.label("mart"), _lag(None if math.isnan(sample.value) else sample.value, limits))
                 for sample in sorted(scrape.named(MART_FRESHNESS_SECONDS.name), key=lambda s: s.label("mart")))


# --- the exporter -------------------------------------------------------------------------------

def _connector_rows(scrape: Scrape) -> tuple[ConnectorRow, ...]:
    rows = [_state_row(sample.label("connector"), "", sample.label("state"))
            for sample in scrape.named(CONNECTOR_STATE.name) if sample.value == 1]
    tasks = [_state_row(sample.label("connector"), sample.label("task"), sample.label("state"))
             for sample in scrape.named(CONNECTOR_TASK_STATE.name) if sample.value == 1]
    return tuple(sorted(rows + tasks, key=lambda row: (row.connector, row.task != "", _task_number(row.task))))


def _state_row(connector: str, task: str, state: str) -> ConnectorRow:
    return ConnectorRow(connector, task, state, Level.OK if state == RUNNING else Level.FAIL)


def _task_number(task: str) -> int:
    return int(task) if task.isdigit() else -1


def _connector_problems(rows: tuple[ConnectorRow, ...]) -> list[str]:
    connectors = [row for row in rows if not row.task]
    if not connectors:
        return ["the exporter reports no connector state"]
    problems = []
    for connector in connectors:
        tasks = [row for row in rows if row.connector == connector.connector and row.task]
        if connector.state == MISSING:
            problems.append(f"connector {connector.connector} does not exist (MISSING)")
        elif connector.state != RUNNING:
            problems.append(f"connector {connector.connector} is {connector.state}")
        elif not tasks:
            problems.append(f"connector {connector.connector} has no task")
        problems += [f"connector {row.connector} task {row.task} is {row.state}"
                     for row in tasks if row.level is Level.FAIL]
    return problems


def _exporter_errors(earlier: Scrape | None, scrape: Scrape) -> list[str]:
    return [f"the exporter failed to read {source} (its readings may be stale)"
            for source in sorted({sample.label("source") for sample in scrape.named(EXPORTER_SCRAPE_ERRORS_TOTAL.name)})
            if _increase(earlier, scrape, EXPORTER_SCRAPE_ERRORS_TOTAL, source, label="source")]


def _slot_problems(slots: tuple[SlotRow, ...], limits: Limits) -> list[str]:
    return [f"replication slot {row.slot} retains {format_bytes(row.retained_wal_bytes.value or 0)} of WAL "
            f"(above {format_bytes(limits.max_wal_bytes)})"
            for row in slots if row.retained_wal_bytes.level is Level.FAIL]


def _slot_rows(scrape: Scrape, limits: Limits) -> tuple[SlotRow, ...]:
    active = {sample.label("slot"): sample.value for sample in scrape.named(SLOT_ACTIVE.name)}
    rows = []
    for sample in sorted(scrape.named(SLOT_RETAINED_WAL_BYTES.name), key=lambda s: s.label("slot")):
        slot = sample.label("slot")
        streaming = active.get(slot)
        rows.append(SlotRow(
            slot,
            Reading(sample.value, Level.FAIL if sample.value > limits.max_wal_bytes else Level.OK),
            Reading(streaming, Level.WARN if streaming == 0 else Level.OK),
        ))
    return tuple(rows)


# --- reading samples ----------------------------------------------------------------------------

def _earlier(before: Snapshot | None, endpoint: str) -> Scrape | None:
    scrape = before.scrapes.get(endpoint) if before is not None else None
    return scrape if scrape is not None and scrape.up else None


def _matching(scrape: Scrape, metric: Metric, value: str, label: str) -> list[Sample]:
    return [sample for sample in scrape.named(metric.name) if sample.label(label) == value]


def _total(scrape: Scrape, metric: Metric, value: str, label: str = "stage") -> float | None:
    """The sum of the metric's samples whose `label` is `value`; None when it exports none."""
    samples = _matching(scrape, metric, value, label)
    return sum(sample.value for sample in samples) if samples else None


def _increase(earlier: Scrape | None, scrape: Scrape, metric: Metric, value: str,
              label: str = "stage") -> float | None:
    """How much a counter grew since the earlier scrape (a restarted process counts from 0); None if unknown."""
    now = _total(scrape, metric, value, label)
    then = _total(earlier, metric, value, label) if earlier is not None else None
    if now is None or then is None:
        return None
    return now - then if now >= then else now


def format_bytes(value: float) -> str:
    """1536 -> '1.5 KiB' (binary units up to GiB)."""
    if abs(value) < 1024:
        return f"{value:.0f} B"
    for unit in ("KiB", "MiB"):
        value /= 1024
        if abs(value) < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} GiB"
