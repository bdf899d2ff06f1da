from core.kafka_connect import ConnectorStatus, first_lines, restart_advice


def test_running_needs_the_connector_and_every_task_running() -> None:
    body = {"name": "c", "connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}]}

    assert ConnectorStatus.from_json(body).running


def test_no_tasks_yet_is_not_running() -> None:
    body = {"name": "c", "connector": {"state": "RUNNING"}, "tasks": []}

    assert not ConnectorStatus.from_json(body).running


def test_a_failed_task_makes_the_connector_failed_and_keeps_its_trace() -> None:
    body = {
        "name": "c",
        "connector": {"state": "RUNNING"},
        "tasks": [{"id": 0, "state": "FAILED", "trace": "org.Boom: no slot\n\tat a\n\tat b"}],
    }

    status = ConnectorStatus.from_json(body)

    assert status.failed and not status.running
    assert status.trace == "org.Boom: no slot\n\tat a\n\tat b"
    assert status.describe() == "c: connector RUNNING, tasks [FAILED]"


def test_first_lines_cuts_a_long_trace() -> None:
    assert first_lines("a\nb\nc\nd", count=2) == "a\nb"


def test_failed_task_ids_come_from_the_tasks_not_their_positions() -> None:
    body = {"name": "c", "connector": {"state": "RUNNING"},
            "tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "FAILED", "trace": "x"}]}

    assert ConnectorStatus.from_json(body).failed_task_ids == (1,)


def test_restart_advice_names_each_failed_task() -> None:
    status = ConnectorStatus("c", "RUNNING", ("FAILED", "FAILED"), "x", (0, 1))

    assert restart_advice("http://connect:8083/", status) == (
        "fix the cause (trace: `cdc connectors status`), then restart: "
        "curl -X POST http://connect:8083/connectors/c/tasks/0/restart ; "
        "curl -X POST http://connect:8083/connectors/c/tasks/1/restart (or `cdc connectors apply`)"
    )
