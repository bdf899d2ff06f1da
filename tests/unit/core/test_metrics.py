import math

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import (
    EXPORTER,
    MARTS,
    REPLICA,
    LastCommit,
    metrics_of,
    observe_all,
    register_exporter_metrics,
    register_worker_metrics,
    series_names,
)


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(generate_latest(registry).decode())
            for sample in family.samples}


def exported_names(registry: CollectorRegistry) -> set[str]:
    return {family.name for family in text_string_to_metric_families(generate_latest(registry).decode())}


def test_the_replica_endpoint_exports_exactly_the_replica_metrics() -> None:
    registry = CollectorRegistry()
    register_worker_metrics(registry, "replica")
    assert exported_names(registry) == {metric.family_name for metric in metrics_of(REPLICA)}


def test_the_marts_endpoint_exports_exactly_the_marts_metrics() -> None:
    registry = CollectorRegistry()
    register_worker_metrics(registry, "marts", ["user_activity"])
    assert exported_names(registry) == {metric.family_name for metric in metrics_of(MARTS)}


def test_the_exporter_endpoint_exports_exactly_the_exporter_metrics() -> None:
    registry = CollectorRegistry()
    exporter = register_exporter_metrics(registry)
    exporter.slot_active.labels("s").set(1)
    exporter.slot_retained_wal.labels("s").set(1)
    exporter.set_connector_state("c", "RUNNING")
    exporter.set_task_states("c", {0: "RUNNING"})
    assert exported_names(registry) == {metric.family_name for metric in metrics_of(EXPORTER)}


def test_series_names_list_a_histograms_bucket_sum_and_count() -> None:
    assert {"cdc_commit_to_apply_seconds_bucket", "cdc_commit_to_apply_seconds_sum",
            "cdc_commit_to_apply_seconds_count", "cdc_changes_applied_total"} <= series_names([REPLICA])


def test_lag_and_commit_time_are_nan_before_the_first_change() -> None:
    registry = CollectorRegistry()
    register_worker_metrics(registry, "replica")
    values = samples(registry)
    assert math.isnan(values[("cdc_replica_lag_seconds", ())])
    assert math.isnan(values[("cdc_source_commit_timestamp_seconds", (("stage", "replica"),))])


def test_a_batch_sets_the_commit_time_to_its_newest_change_and_lag_counts_from_it() -> None:
    registry = CollectorRegistry()
    metrics = register_worker_metrics(registry, "replica", clock=lambda: 110.0)
    metrics.applied(3, [100.0, 104.0, 102.0], applied_at=105.0)
    values = samples(registry)
    assert values[("cdc_source_commit_timestamp_seconds", (("stage", "replica"),))] == 104.0
    assert values[("cdc_replica_lag_seconds", ())] == 6.0


def test_a_batch_observes_each_change_from_commit_to_apply() -> None:
    registry = CollectorRegistry()
    metrics = register_worker_metrics(registry, "replica")
    metrics.applied(2, [100.0, 104.0], applied_at=105.0)
    values = samples(registry)
    assert values[("cdc_commit_to_apply_seconds_count", (("stage", "replica"),))] == 2
    assert values[("cdc_commit_to_apply_seconds_sum", (("stage", "replica"),))] == 6.0
    assert values[("cdc_commit_to_apply_seconds_bucket", (("le", "1.0"), ("stage", "replica")))] == 1


def test_a_batch_counts_itself_and_its_changes() -> None:
    registry = CollectorRegistry()
    metrics = register_worker_metrics(registry, "marts", ["user_activity"])
    metrics.applied(7, [], applied_at=1.0)
    values = samples(registry)
    assert (values[("cdc_batches_total", (("stage", "marts"),))],
            values[("cdc_changes_applied_total", (("stage", "marts"),))]) == (1, 7)


def test_every_mart_has_a_freshness_counted_from_the_last_commit() -> None:
    registry = CollectorRegistry()
    metrics = register_worker_metrics(registry, "marts", ["user_activity", "sales_by_category"], clock=lambda: 50.0)
    metrics.applied(1, [48.0], applied_at=49.0)
    values = samples(registry)
    assert (values[("cdc_mart_freshness_seconds", (("mart", "user_activity"),))],
            values[("cdc_mart_freshness_seconds", (("mart", "sales_by_category"),))]) == (2.0, 2.0)


def test_an_older_commit_time_does_not_move_the_last_commit_back() -> None:
    last = LastCommit()
    last.advance(10.0)
    last.advance(9.0)
    assert last.seconds == 10.0


def test_consumer_lag_drops_partitions_no_longer_assigned() -> None:
    registry = CollectorRegistry()
    metrics = register_worker_metrics(registry, "replica")
    metrics.set_consumer_lag({("t", 0): 5, ("t", 1): 2})
    metrics.set_consumer_lag({("t", 1): 3})
    lag = {labels: value for (name, labels), value in samples(registry).items() if name == "cdc_consumer_lag_messages"}
    assert lag == {(("partition", "1"), ("stage", "replica"), ("topic", "t")): 3}


def test_the_connector_state_is_one_for_the_current_state_only() -> None:
    registry = CollectorRegistry()
    register_exporter_metrics(registry).set_connector_state("c", "MISSING")
    states = {dict(labels)["state"]: value for (name, labels), value in samples(registry).items()
              if name == "cdc_connector_state"}
    assert states == {"RUNNING": 0, "PAUSED": 0, "FAILED": 0, "UNASSIGNED": 0, "RESTARTING": 0, "STOPPED": 0,
                      "MISSING": 1}


def test_scrape_errors_of_both_sources_are_exported_from_zero() -> None:
    registry = CollectorRegistry()
    register_exporter_metrics(registry)
    errors = {labels: value for (name, labels), value in samples(registry).items()
              if name == "cdc_exporter_scrape_errors_total"}
    assert errors == {(("source", "postgres"),): 0, (("source", "connect"),): 0}


def test_the_marts_paused_gauge_starts_at_zero_on_the_marts_endpoint_only() -> None:
    marts, replica = CollectorRegistry(), CollectorRegistry()
    metrics = register_worker_metrics(marts, "marts", ["user_activity"])
    register_worker_metrics(replica, "replica")
    assert samples(marts)[("cdc_marts_paused", ())] == 0
    assert "cdc_marts_paused" not in exported_names(replica)
    assert metrics.marts_paused is not None


def test_observing_all_at_once_counts_as_observing_one_by_one() -> None:
    amounts = [0.0, 0.005, 0.0051, 0.1, 0.25, 0.25, 1.0, 7.5, 10.0, 10.5, 600.0, 1e9]
    one_by_one, at_once = CollectorRegistry(), CollectorRegistry()
    single = Histogram("delay_seconds", "d", registry=one_by_one, buckets=(0.005, 0.1, 0.25, 1.0, 10.0))
    for amount in amounts:
        single.observe(amount)
    observe_all(Histogram("delay_seconds", "d", registry=at_once, buckets=(0.005, 0.1, 0.25, 1.0, 10.0)), amounts)
    assert samples(at_once) == samples(one_by_one)
