"""docker-compose.yml and .env read the way `docker compose` reads them (no Docker engine exists here).

`load_project` parses the file (YAML anchors and `<<` merges included, as compose does), interpolates every
string in it from .env (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR:+other}`,
`$VAR`, and `$$` for a literal `$`), and gives each service's command, environment, dependencies and
healthcheck. Unlike compose, the shell's environment is not consulted (the tests must not depend on the
machine's variables) and an unset variable without a default is an error (compose would warn and use "").
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import REPOSITORY

COMPOSE_FILE = REPOSITORY / "docker-compose.yml"
DOTENV_FILE = REPOSITORY / ".env"
DOCKERFILE = REPOSITORY / "Dockerfile"

# ${NAME}, ${NAME<op>word} with op one of :- - :? ? :+ +, $NAME, or $$.
_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>\w+)(?:(?P<op>:?[-?+])(?P<word>(?:\$\{[^}]*\}|[^}])*))?\}|(?P<bare>\w+))")


class ComposeFileError(Exception):
    """docker-compose.yml or .env holds something docker compose would refuse (or these helpers cannot read)."""


def read_dotenv(path: Path = DOTENV_FILE) -> dict[str, str]:
    """KEY=VALUE lines (compose's .env format: `#` comments, optional quotes, `export ` allowed)."""
    variables: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.removeprefix("export ").partition("=")
        if not separator:
            raise ComposeFileError(f"{path}:{number}: not KEY=VALUE: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        variables[key.strip()] = value
    return variables


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """`value` with compose's variable substitution applied (see the module doc)."""
    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        op, word = match.group("op"), match.group("word") or ""
        is_set = name in variables
        is_set_and_not_empty = is_set and variables[name] != ""
        if op in (":-", "-"):
            return variables[name] if (is_set_and_not_empty if op == ":-" else is_set) else interpolate(word, variables)
        if op in (":+", "+"):
            return interpolate(word, variables) if (is_set_and_not_empty if op == ":+" else is_set) else ""
        if op in (":?", "?") and not (is_set_and_not_empty if op == ":?" else is_set):
            raise ComposeFileError(f"required variable {name} is missing a value: {word}")
        if not is_set:
            raise ComposeFileError(f"variable {name} is not set in .env and has no default")
        return variables[name]
    return _VARIABLE.sub(substitute, value)


def _interpolate_tree(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(item, variables) for key, item in node.items()}
    return node


def _environment_value(name: str, value: Any) -> str:
    """An environment mapping's value as the container gets it (compose writes numbers and booleans as text)."""
    if value is None:
        raise ComposeFileError(f"{name} has no value (compose would take it from the shell: not reproducible)")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Service:
    """One service of the compose file, interpolated."""

    name: str
    image: str
    command: tuple[str, ...] | None
    environment: dict[str, str]
    depends_on: dict[str, str]  # dependency -> condition
    healthcheck: tuple[str, ...] | None  # the `test` after CMD (CMD-SHELL as ("sh", "-c", ...))
    restart: str
    built_here: bool  # `build: .`: the project's own image (the Python services'), not another image built here
    volumes: tuple[str, ...]  # SOURCE:TARGET[:MODE], as written

    @classmethod
    def of(cls, name: str, spec: dict[str, Any]) -> Service:
        environment = spec.get("environment", {})
        if not isinstance(environment, dict):
            raise ComposeFileError(f"{name}: environment as a list is not supported here; use a mapping")
        command = spec.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        return cls(
            name=name,
            image=spec.get("image", ""),
            command=tuple(str(part) for part in command) if command is not None else None,
            environment={key: _environment_value(f"{name}.environment.{key}", value)
                         for key, value in environment.items()},
            depends_on={dependency: rule["condition"] for dependency, rule in spec.get("depends_on", {}).items()},
            healthcheck=_healthcheck_command(spec.get("healthcheck")),
            restart=str(spec.get("restart", "no")),
            built_here=_builds_the_projects_image(spec.get("build")),
            volumes=tuple(str(volume) for volume in spec.get("volumes", [])),
        )

    def bind_mounts(self, under: str) -> list[tuple[Path, str]]:
        """(file of this repository, path in the container) of the bind mounts into folder `under`, by target."""
        mounts = []
        for volume in self.volumes:
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")) and target.startswith(under.rstrip("/") + "/"):
                mounts.append((REPOSITORY / source, target))
        return sorted(mounts, key=lambda mount: mount[1])


def _builds_the_projects_image(build: object) -> bool:
    """`build: .` or its long form: the repository's root Dockerfile (other builds make infrastructure images)."""
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        return False
    return (str(build.get("context", ".")).rstrip("/") in (".", "")
            and build.get("dockerfile", "Dockerfile") in ("Dockerfile", "./Dockerfile"))


def _healthcheck_command(healthcheck: dict[str, Any] | None) -> tuple[str, ...] | None:
    if not healthcheck:
        return None
    test = healthcheck["test"]
    if test[0] == "CMD":
        return tuple(test[1:])
    if test[0] == "CMD-SHELL":
        return ("sh", "-c", test[1])
    raise ComposeFileError(f"healthcheck test {test!r} is neither CMD nor CMD-SHELL")


@dataclass(frozen=True)
class Project:
    services: dict[str, Service]
    variables: dict[str, str]  # from .env

    def app_services(self) -> list[Service]:
        """The services of the project's own image, in an order compose's depends_on allows."""
        own = {name: service for name, service in self.services.items() if service.built_here}
        ordered: list[Service] = []
        while len(ordered) < len(own):
            ready = [service for name, service in own.items() if service not in ordered
                     and all(dependency not in own or own[dependency] in ordered
                             for dependency in service.depends_on)]
            if not ready:
                raise ComposeFileError(f"depends_on has a cycle among {sorted(own)}")
            ordered.extend(ready)
        return ordered

    def waited_for_completion(self, service: Service) -> bool:
        """Whether another service waits for this one to exit successfully (a one-shot: migrate, connector)."""
        return any(other.depends_on.get(service.name) == "service_completed_successfully"
                   for other in self.services.values())


def load_project(compose_file: Path = COMPOSE_FILE, dotenv: Path = DOTENV_FILE) -> Project:
    variables = read_dotenv(dotenv) if dotenv.exists() else {}
    tree = _interpolate_tree(yaml.safe_load(compose_file.read_text()), variables)
    return Project({name: Service.of(name, spec) for name, spec in tree["services"].items()}, variables)


def image_environment(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
    """The variables the project's Dockerfile sets with ENV (`ENV A=1 B=2` form, continuation lines joined)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    variables: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            for pair in shlex.split(line.strip()[4:]):
                key, separator, value = pair.partition("=")
                if not separator:
                    raise ComposeFileError(f"Dockerfile: `ENV {line}` is not in the KEY=VALUE form")
                variables[key] = value
    return variables


def point_at_local_servers(environment: Mapping[str, str], addresses: Mapping[str, str]) -> dict[str, str]:
    """`environment` with every `host:port` naming a compose service replaced by that server's local address.

    `addresses` maps what a container reaches (e.g. "postgres:5432") to where the local server listens
    (e.g. "127.0.0.1:41234"). Only an authority of a URL or a bare host:port is rewritten, and only when
    its host is a key's host; a compose host on a port no local server stands for is an error, so nothing
    keeps pointing at a name that does not resolve here.
    """
    hosts = {address.rsplit(":", 1)[0] for address in addresses}
    authority = re.compile(r"(?<![\w.-])(?P<host>[A-Za-z][\w.-]*):(?P<port>\d+)(?![\w.])")

    def replace(match: re.Match[str]) -> str:
        if match.group("host") not in hosts:
            return match.group(0)
        if match.group(0) not in addresses:
            raise ComposeFileError(f"{match.group(0)}: no local server stands for this compose address")
        return addresses[match.group(0)]

    return {key: authority.sub(replace, value) for key, value in environment.items()}


def container_paths_to_local(environment: Mapping[str, str], root: Path) -> dict[str, str]:
    """`environment` with every absolute path (a file in the container's own filesystem: /tmp/…, /home/cdc/…)
    moved under `root`, so that the services' files stay private to this run as they are to their container."""
    return {key: str(root / value.lstrip("/")) if value.startswith("/") and " " not in value else value
            for key, value in environment.items()}
