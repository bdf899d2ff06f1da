"""Debian packages of another suite, downloaded and unpacked into a folder: nothing is installed.

apt runs with a configuration of its own (one sources line for the suite, on the mirror and keyring
the machine's own apt uses; its own package lists, archive cache and an empty dpkg status), so the
system's apt and dpkg state stay untouched. With the empty status apt resolves every dependency
down to libc6, so the unpacked root carries the suite's own loader and libraries to run with.
"""
from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cdc.errors import LocalStackError

APT_TIMEOUT_S = 600


@dataclass(frozen=True)
class AptSource:
    uri: str
    signed_by: str  # a keyring file; empty: apt's trusted keys


def _apt_config(*names: str) -> list[str]:
    """Values of apt configuration items (files and folders resolved), as `apt-config shell` reads them."""
    spec: list[str] = []
    for index, name in enumerate(names):
        spec += [f"V{index}", name]
    output = _run(["apt-config", "shell", *spec], "apt-config").stdout
    values = dict(re.findall(r"^(V\d+)='(.*)'$", output, flags=re.MULTILINE))
    return [values.get(f"V{index}", "") for index in range(len(names))]


def _source_texts() -> list[tuple[str, str]]:
    """(format, text) of each of the machine's apt sources files: "list" (one-line) or "sources" (deb822)."""
    source_list, source_parts = _apt_config("Dir::Etc::SourceList/f", "Dir::Etc::SourceParts/d")
    paths = [Path(source_list)] if source_list else []
    if source_parts and Path(source_parts).is_dir():
        paths += sorted(path for path in Path(source_parts).iterdir() if path.suffix in (".list", ".sources"))
    return [(path.suffix.lstrip(".") or "list", path.read_text()) for path in paths if path.is_file()]


def _deb822_sources(text: str) -> list[tuple[str, list[str], str]]:
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            match = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if match and not line.startswith("#"):
                fields[match.group(1).lower()] = match.group(2).strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            suites = fields.get("suites", "").split()
            found += [(uri, suites, fields.get("signed-by", "")) for uri in fields.get("uris", "").split()]
    return found


def _one_line_sources(text: str) -> list[tuple[str, list[str], str]]:
    found = []
    for line in text.splitlines():
        match = re.match(r"^deb\s+(?:\[([^]]*)\]\s+)?(\S+)\s+(\S+)", line.strip())
        if match:
            options = dict(option.split("=", 1) for option in (match.group(1) or "").split() if "=" in option)
            found.append((match.group(2), [match.group(3)], options.get("signed-by", "")))
    return found


def debian_mirror() -> AptSource:
    """The Debian mirror (not its security archive) the machine's apt uses, with its keyring."""
    for kind, text in _source_texts():
        entries = _deb822_sources(text) if kind == "sources" else _one_line_sources(text)
        for uri, suites, signed_by in entries:
            if any(not suite.endswith("-security") for suite in suites) and "debian" in uri:
                # A keyring given inline (a key block) is left to apt's trusted keys.
                return AptSource(uri.rstrip("/"), signed_by if signed_by.startswith("/") else "")
    raise LocalStackError("no Debian mirror in this machine's apt sources (apt-config Dir::Etc::SourceList, "
                          "SourceParts): cannot fetch packages of another suite")


def download(packages: list[str], suite: str, folder: Path) -> list[Path]:
    """The .deb files of `packages` from `suite` and of all their dependencies, into folder/archives."""
    mirror = debian_mirror()
    options = _private_apt(folder, mirror, suite)
    where = f"Debian {suite} at {mirror.uri}"
    update = _run(["apt-get", *options, "--error-on=any", "update"], "apt-get update", check=False)
    if update.returncode != 0:
        raise LocalStackError(f"cannot fetch {' '.join(packages)} from {where}: apt-get update failed:\n"
                              f"{_tail(update.stdout)}")
    fetch = _run(["apt-get", *options, "--download-only", "--no-install-recommends", "-y", "install", *packages],
                 "apt-get install --download-only", check=False)
    if fetch.returncode != 0:
        raise LocalStackError(f"cannot fetch {' '.join(packages)} from {where}:\n{_tail(fetch.stdout)}")
    return sorted((folder / "cache" / "archives").glob("*.deb"))


def _private_apt(folder: Path, mirror: AptSource, suite: str) -> list[str]:
    """apt-get options that keep all of apt's state under `folder`."""
    for sub in ("lists/partial", "cache/archives/partial"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={mirror.signed_by}] " if mirror.signed_by else ""
    (folder / "sources.list").write_text(f"deb {signed}{mirror.uri} {suite} main\n")
    status = folder / "status"
    status.write_text("")  # nothing installed: every dependency is downloaded
    settings = {
        "Dir::Etc::SourceList": folder / "sources.list", "Dir::Etc::SourceParts": folder / "sources.list.d",
        "Dir::Etc::Preferences": folder / "preferences", "Dir::Etc::PreferencesParts": folder / "preferences.d",
        "Dir::State::Lists": folder / "lists", "Dir::Cache": folder / "cache", "Dir::State::status": status,
        "Debug::NoLocking": "1",  # the folder is the caller's alone (it holds a lock on it)
        "APT::Get::List-Cleanup": "0",
    }
    options: list[str] = ["-q"]
    for name, value in settings.items():
        options += ["-o", f"{name}={value}"]
    return options


def unpack(debs: list[Path], root: Path, skip: tuple[str, ...] = ()) -> None:
    """Unpack each .deb (not those whose package name starts with one of `skip`) into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        if deb.name.split("_")[0].startswith(skip):
            continue
        _run(["dpkg-deb", "-x", str(deb), str(root)], f"dpkg-deb -x {deb.name}")


def version(deb: Path) -> str:
    return _run(["dpkg-deb", "-f", str(deb), "Version"], f"dpkg-deb -f {deb.name}").stdout.strip()


def _run(argv: list[str], what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=APT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalStackError(f"{what} failed: {exc}") from exc
    if check and result.returncode != 0:
        raise LocalStackError(f"{what} failed ({shlex.join(argv)}):\n{_tail(result.stdout)}")
    return result


def _tail(output: str, lines: int = 12) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])
