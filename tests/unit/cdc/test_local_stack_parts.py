"""The local stack's parts: the ports they are given and the order `status` lists them in."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cdc.local import ports, stack
from cdc.local.processes import ProcessRecord
from tests.support.ports import free_ports


def test_a_port_already_given_to_another_part_is_never_given_again(tmp_path: Path, monkeypatch: Any) -> None:
    # Kafka Connect listens on its port only seconds after it is given: nothing listens on it meanwhile.
    first, second = free_ports(2)
    monkeypatch.setattr(ports, "candidates", lambda: [first, first, second])
    monkeypatch.setattr(ports, "default_registry", lambda: tmp_path / "ports.json")
    state = stack.StackState(tmp_path)

    assert (stack._port(state, "connect"), stack._port(state, "postgres")) == (first, second)


def test_a_port_given_to_one_stack_is_never_given_to_another_while_its_folder_exists(
        tmp_path: Path, monkeypatch: Any) -> None:
    # The CI failure this closes: the first stack's part was down (killed, restarting, or still booting), so
    # nothing listened on its port, and a second stack, in the test suite's other process, could be given it.
    first, second = free_ports(2)
    monkeypatch.setattr(ports, "candidates", lambda: [first, second])
    monkeypatch.setattr(ports, "default_registry", lambda: tmp_path / "ports.json")
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    other.mkdir()

    assert (stack._port(stack.StackState(one), "postgres"), stack._port(stack.StackState(other), "postgres")) == (
        first, second)


def test_status_lists_the_parts_along_the_pipeline_not_in_their_start_order(tmp_path: Path) -> None:
    state = stack.StackState(tmp_path)
    for name in ("broker", "connect", "postgres", "mariadb", "exporter", "consumer", "marts"):  # the start order
        state.add(ProcessRecord(name, pid=2**22 + 1, start_ticks=0, log=str(tmp_path / f"{name}.log")))

    listed = [part.name for part in stack.status(tmp_path)]

    assert listed == ["postgres", "mariadb", "broker", "connect", "exporter", "consumer", "marts"]
