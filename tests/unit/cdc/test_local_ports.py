"""The local stack's ports: outside the kernel's ephemeral range, and never given twice while their folder exists."""
from __future__ import annotations

import json
import socket
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local import ports
from tests.support.ports import free_ports


def folders(parent: Path, *names: str) -> list[Path]:
    made = [parent / name for name in names]
    for folder in made:
        folder.mkdir()
    return made


def test_ports_are_chosen_outside_the_kernels_ephemeral_range(tmp_path: Path) -> None:
    # The kernel hands out ports of that range by itself (a client's local port, a bind to port 0).
    low, high = ports.ephemeral_range()

    given = [ports.reserve(tmp_path, registry=tmp_path / "ports.json") for _ in range(50)]

    assert [port for port in given if low <= port <= high or not ports.LOWEST <= port <= ports.HIGHEST] == []


def test_the_ephemeral_range_is_the_kernels() -> None:
    low, high = (int(field) for field in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())

    assert ports.ephemeral_range() == (low, high)


def test_with_no_port_outside_the_ephemeral_range_ports_inside_it_are_given(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (1024, 65535))

    assert ports.LOWEST <= ports.reserve(tmp_path, registry=tmp_path / "ports.json") <= ports.HIGHEST


def test_every_port_given_is_a_new_one(tmp_path: Path) -> None:
    given = [ports.reserve(tmp_path, registry=tmp_path / "ports.json") for _ in range(50)]

    assert len(set(given)) == 50


def test_a_port_recorded_for_another_existing_folder_is_not_given_even_while_nothing_listens_on_it(
        tmp_path: Path) -> None:
    first, second = free_ports(2)
    registry, (one, other) = tmp_path / "ports.json", folders(tmp_path, "one", "other")
    ports.reserve(one, registry, offered=[first])

    assert ports.reserve(other, registry, offered=[first, second]) == second


def test_a_port_whose_folder_is_gone_is_given_again(tmp_path: Path) -> None:
    (first,) = free_ports(1)
    registry, (gone, other) = tmp_path / "ports.json", folders(tmp_path, "gone", "other")
    ports.reserve(gone, registry, offered=[first])
    gone.rmdir()

    assert ports.reserve(other, registry, offered=[first]) == first


def test_a_port_something_listens_on_is_not_given(tmp_path: Path) -> None:
    first, second = free_ports(2)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", first))
        listener.listen()

        assert ports.reserve(tmp_path, tmp_path / "ports.json", offered=[first, second]) == second


def test_a_port_kept_from_before_the_registry_is_not_given_to_another_folder(tmp_path: Path) -> None:
    first, second = free_ports(2)
    registry, (old, new) = tmp_path / "ports.json", folders(tmp_path, "old", "new")
    ports.keep(old, first, registry)

    assert ports.reserve(new, registry, offered=[first, second]) == second


def test_a_port_another_folder_holds_stays_its_own_when_kept(tmp_path: Path) -> None:
    (first,) = free_ports(1)
    registry, (holder, other) = tmp_path / "ports.json", folders(tmp_path, "holder", "other")
    ports.reserve(holder, registry, offered=[first])

    ports.keep(other, first, registry)

    assert json.loads(registry.read_text()) == {str(first): str(holder)}


def test_keeping_a_port_already_recorded_for_its_folder_leaves_the_registry_unwritten(tmp_path: Path) -> None:
    (first,) = free_ports(1)
    registry, (folder,) = tmp_path / "ports.json", folders(tmp_path, "folder")
    ports.reserve(folder, registry, offered=[first])
    written = registry.stat().st_ino

    ports.keep(folder, first, registry)

    assert registry.stat().st_ino == written  # each write replaces the file


def _reserve_all(folder: Path, registry: Path, offered: list[int]) -> list[int]:
    return [ports.reserve(folder, registry, offered=offered) for _ in range(len(offered) // 2)]


def test_two_processes_reserving_at_once_never_get_the_same_port(tmp_path: Path) -> None:
    offered = free_ports(100)
    registry, (one, other) = tmp_path / "ports.json", folders(tmp_path, "one", "other")

    with ProcessPoolExecutor(2) as pool:
        first = pool.submit(_reserve_all, one, registry, offered)
        second = pool.submit(_reserve_all, other, registry, offered)
        given = first.result() + second.result()

    assert sorted(given) == sorted(offered)


def test_no_port_left_is_a_clear_error(tmp_path: Path) -> None:
    (first,) = free_ports(1)
    registry = tmp_path / "ports.json"
    ports.reserve(tmp_path, registry, offered=[first])

    with pytest.raises(LocalStackError, match="no free port for the local stack in 20000-65535"):
        ports.reserve(tmp_path, registry, offered=[first])
