"""Finding the machine's Debian mirror in its apt sources, both formats."""
from __future__ import annotations

from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local import debian_packages
from cdc.local.debian_packages import AptSource, debian_mirror

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEB822 = f"""Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: {KEYRING}

Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: {KEYRING}
"""


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    monkeypatch.setattr(debian_packages, "_source_texts", lambda: found)
    return found


def test_the_mirror_of_a_deb822_source_skips_the_security_archive(sources: list[tuple[str, str]]) -> None:
    sources.append(("sources", DEB822))

    assert debian_mirror() == AptSource("http://mirror.example/debian", KEYRING)


def test_the_mirror_of_a_one_line_source_keeps_its_signed_by(sources: list[tuple[str, str]]) -> None:
    sources.append(("list", "# a comment\ndeb-src http://src.example/debian bookworm main\n"
                            f"deb [arch=amd64 signed-by={KEYRING}] http://deb.debian.org/debian bookworm main\n"))

    assert debian_mirror() == AptSource("http://deb.debian.org/debian", KEYRING)


def test_a_disabled_stanza_and_another_vendor_are_not_the_mirror(sources: list[tuple[str, str]]) -> None:
    sources.append(("sources", "Types: deb\nURIs: http://other.example/debian\nSuites: bookworm\nEnabled: no\n\n"
                               "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n"))

    with pytest.raises(LocalStackError, match="no Debian mirror in this machine's apt sources"):
        debian_mirror()


def test_the_private_apt_configuration_names_one_sid_line_and_an_empty_status(tmp_path: Path) -> None:
    options = debian_packages._private_apt(tmp_path, AptSource("http://deb.debian.org/debian", KEYRING), "sid")

    assert (tmp_path / "sources.list").read_text() == f"deb [signed-by={KEYRING}] http://deb.debian.org/debian sid main\n"
    assert (tmp_path / "status").read_text() == ""
    assert f"Dir::State::status={tmp_path / 'status'}" in options and f"Dir::Cache={tmp_path / 'cache'}" in options
