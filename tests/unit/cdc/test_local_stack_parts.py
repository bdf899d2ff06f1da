"""The local stack's parts: the ports they are given and the order `status` lists them in."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cdc.local import stack
from cdc.local.processes import ProcessRecord


def test_a_port_already_given_to_another_part_is_never_given_again(tmp_path: Path, monkeypatch: Any) -> None:
    # Kafka Connect listens on its port only seconds after it is given: the OS may offer that port again meanwhile.
    offered = iter([45001, 45001, 45002])
    monkeypatch.setattr(stack, "free_port", lambda: next(offered))
    state = stack.StackState(tmp_path)

    assert (stack._port(state, "connect"), stack._port(state, "postgres")) == (45001, 45002)


def test_status_lists_the_parts_along_the_pipeline_not_in_their_start_order(tmp_path: Path) -> None:
    state = stack.StackState(tmp_path)
    for name in ("broker", "connect", "postgres", "mariadb", "exporter", "consumer", "marts"):  # the start order
        state.add(ProcessRecord(name, pid=2**22 + 1, start_ticks=0, log=str(tmp_path / f"{name}.log")))

    listed = [part.name for part in stack.status(tmp_path)]

    assert listed == ["postgres", "mariadb", "broker", "connect", "exporter", "consumer", "marts"]
