"""Where the local stack keeps what it builds or fetches once for every stack of the machine's user."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """/var/cache/cdc as root, ~/.cache/cdc otherwise."""
    return Path("/var/cache/cdc") if os.geteuid() == 0 else Path.home() / ".cache" / "cdc"
