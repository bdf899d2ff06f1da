"""Fetching Oracle MySQL's packages with the real apt-get: a mirror that cannot serve them is a clear error."""
from __future__ import annotations

from pathlib import Path

import pytest

from cdc.errors import LocalStackError
from cdc.local import debian_packages
from tests.support.ports import free_port

pytestmark = pytest.mark.integration


def test_an_unreachable_mirror_fails_naming_the_packages_the_mirror_and_apts_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = f"http://127.0.0.1:{free_port()}/debian"  # nothing listens there
    monkeypatch.setattr(debian_packages, "debian_mirror", lambda: debian_packages.AptSource(mirror, ""))

    with pytest.raises(LocalStackError) as raised:
        debian_packages.download(["mysql-server-core"], "sid", tmp_path)

    message = str(raised.value)
    assert message.startswith(f"cannot fetch mysql-server-core from Debian sid at {mirror}: apt-get update failed:\n")
    assert "Connection refused" in message
