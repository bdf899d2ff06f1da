"""The compose reader the compose integration test runs on (tests/support/compose.py): compose's interpolation and
the two translations of a container's environment to this machine."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.compose import (
    ComposeFileError,
    Service,
    container_paths_to_local,
    interpolate,
    point_at_local_servers,
    read_dotenv,
)

ADDRESSES = {"postgres:5432": "127.0.0.1:41000", "connect:8083": "127.0.0.1:41001"}


@pytest.mark.parametrize(("text", "expected"), [
    ("${SET}", "value"),
    ("$SET/x", "value/x"),
    ("$${SET}", "${SET}"),
    ("${UNSET:-fallback}", "fallback"),
    ("${EMPTY:-fallback}", "fallback"),
    ("${EMPTY-fallback}", ""),
    ("${UNSET:-${SET}}", "value"),
    ("${SET:+other}", "other"),
    ("${UNSET:+other}", ""),
])
def test_interpolation_follows_compose(text: str, expected: str) -> None:
    assert interpolate(text, {"SET": "value", "EMPTY": ""}) == expected


def test_an_unset_variable_without_a_default_is_an_error() -> None:
    with pytest.raises(ComposeFileError, match="UNSET"):
        interpolate("a ${UNSET} b", {})


def test_a_required_variable_reports_its_message() -> None:
    with pytest.raises(ComposeFileError, match="give it"):
        interpolate("${UNSET:?give it}", {})


def test_dotenv_reads_comments_quotes_and_export(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\n\nA=1\nexport B='two words'\nC=\"x=y\"\nD=plain # note\n")

    assert read_dotenv(dotenv) == {"A": "1", "B": "two words", "C": "x=y", "D": "plain"}


def test_compose_addresses_in_urls_point_at_the_local_servers() -> None:
    environment = {"PG_DSN": "postgresql://app:secret@postgres:5432/shop", "CONNECT_URL": "http://connect:8083"}

    assert point_at_local_servers(environment, ADDRESSES) == {
        "PG_DSN": "postgresql://app:secret@127.0.0.1:41000/shop", "CONNECT_URL": "http://127.0.0.1:41001"}


def test_values_naming_no_compose_host_are_left_alone() -> None:
    environment = {"A": "other-host:5432", "B": "app:1234@elsewhere", "C": "postgres", "D": "9108"}

    assert point_at_local_servers(environment, ADDRESSES) == environment


def test_a_compose_host_on_a_port_no_local_server_serves_is_an_error() -> None:
    with pytest.raises(ComposeFileError, match="postgres:5433"):
        point_at_local_servers({"PG_DSN": "postgresql://postgres:5433/shop"}, ADDRESSES)


def test_container_paths_move_under_the_private_root() -> None:
    environment = {"HEALTH": "/tmp/health.json", "URL": "http://connect:8083/x", "LEVEL": "INFO"}

    assert container_paths_to_local(environment, Path("/run/c")) == {
        "HEALTH": "/run/c/tmp/health.json", "URL": "http://connect:8083/x", "LEVEL": "INFO"}


@pytest.mark.parametrize(("build", "own"), [
    (".", True),
    ({"context": "."}, True),
    ("./", True),
    ({"context": ".", "dockerfile": "Dockerfile", "args": {"A": "1"}}, True),
    ({"context": ".", "dockerfile": "docker/connect/Dockerfile"}, False),  # an infrastructure image built here
    (None, False),
])
def test_only_a_service_built_from_the_repositorys_dockerfile_runs_the_projects_image(build: object, own: bool) -> None:
    spec = {"image": "some:1"} if build is None else {"image": "some:1", "build": build}

    assert Service.of("s", spec).built_here is own
