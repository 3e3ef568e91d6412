"""What a container gets besides its image: volumes, variables and `-A` docker run options.

MLflow turns `-A NAME=VALUE` into `--NAME VALUE` on a `docker run` command line that a shell
then parses. proj accepts the same spellings but maps each option it knows to a docker SDK
argument holding a plain value, so nothing is ever joined into a command line, and refuses
every other option with the list of those it supports (docs/docker.md explains each one).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.environments.base import ContainerMount
from runner.environments.docker_section import DockerVariable
from runner.errors import EnvironmentSetupError, UsageError
from runner.locations import user_path

NETWORK_VARIABLE = "PROJ_DOCKER_NETWORK"  # default network when -A network is not given
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

# Turns an `-A NAME=VALUE` value into what the docker SDK takes; (value, where) -> SDK value.
Converter = Callable[[str, str], Any]


@dataclass(frozen=True)
class DockerOptions:
    """How to build and run a docker environment (from `proj run` options)."""

    build_image: bool = True  # build a project image on top of the base image
    pull: bool = False  # pull a missing base image instead of failing
    docker_args: tuple[tuple[str, str | None], ...] = ()  # -A NAME[=VALUE]
    frozen: bool = False  # the base image must be pinned by digest (or given by --lock)
    lock_file: Path | None = None  # a run's docker-image.json: exactly its base image
    verbose: bool = False  # show build output live


def split_docker_arg(text: str) -> tuple[str, str | None]:
    """`-A NAME=VALUE` → (NAME, VALUE); a bare `-A NAME` is a flag (None)."""
    name, sep, value = text.partition("=")
    return name, (value if sep else None)


def recorded_docker_arg(text: str) -> str:
    """A `-A` option as a run record keeps it: a variable's value may be secret, so `env=NAME=VALUE`
    is kept as `env=NAME` (which copies NAME from the machine that runs it again)."""
    name, value = split_docker_arg(text)
    if ALIASES.get(name, name) == "env" and value is not None:
        return f"{name}={value.partition('=')[0]}"
    return text


@dataclass
class RunSettings:
    """Everything about a container except its image and command."""

    env: dict[str, str] = field(default_factory=dict)  # values, never recorded
    mounts: list[ContainerMount] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # docker SDK `create` keywords
    network: str | None = None
    workdir: str | None = None
    given_args: list[str] = field(default_factory=list)  # -A options as recorded (no env values)

    def summary(self) -> dict[str, Any]:
        """What the run record may show: variable names, never their values."""
        return {"variables": sorted(self.env), "network": self.network or "daemon default",
                "volumes": [f"{m.source}:{m.target}" + (":ro" if m.read_only else "") for m in self.mounts],
                "docker_args": list(self.given_args)}


def parse_volume(spec: str, project_root: Path, where: str) -> ContainerMount:
    """`HOST:CONTAINER[:ro|rw]`; HOST is a path (relative ones to the project) or a volume name."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise UsageError(f"{where}: {spec!r} is not HOST:CONTAINER[:ro|rw]")
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else "rw"
    if mode not in ("ro", "rw"):
        raise UsageError(f"{where}: {spec!r} has mode {mode!r}; use ro or rw")
    if not target.startswith("/"):
        raise UsageError(f"{where}: {spec!r}: the container path {target!r} must be absolute")
    if "/" not in source and not source.startswith((".", "~")):
        if not _NAME.match(source):
            raise UsageError(f"{where}: {spec!r}: {source!r} is neither a path nor a volume name")
        return ContainerMount(source, target, mode == "ro", kind="volume")
    host = user_path(source)
    host = (host if host.is_absolute() else project_root / host).resolve()
    if not host.exists():
        raise EnvironmentSetupError(f"{where}: the host path {str(host)!r} of volume {spec!r} does not exist",
                                    hint="create it, or fix the volume")
    return ContainerMount(str(host), target, mode == "ro")


def declared_variables(variables: Sequence[DockerVariable], environ: Mapping[str, str]) -> dict[str, str]:
    """docker_env.environment: `[NAME, value]` sets a value, a bare NAME copies the host's."""
    values = {}
    for variable in variables:
        if variable.value is not None:
            values[variable.name] = variable.value
        elif variable.name in environ:
            values[variable.name] = environ[variable.name]
        else:
            raise EnvironmentSetupError(
                f"docker_env.environment copies {variable.name} from this machine, but it is not set",
                hint=f"set it (export {variable.name}=...) or give it a value in MLproject: "
                     f"[{variable.name}, value]")
    return values


def parse_network(value: str, where: str) -> str:
    if value.startswith("container:"):
        raise UsageError(f"{where}: network {value!r}: joining another container's network is not supported",
                         hint="use none, host, bridge or the name of a docker network")
    if not _NAME.match(value):
        raise UsageError(f"{where}: {value!r} is not a network name (none, host, bridge or a docker network)")
    return value


def apply_docker_args(settings: RunSettings, args: Sequence[tuple[str, str | None]], project_root: Path,
                      environ: Mapping[str, str]) -> None:
    """Add `-A NAME[=VALUE]` options to `settings`, or raise UsageError for one proj cannot map."""
    for raw_name, value in args:
        name = ALIASES.get(raw_name, raw_name)
        where = f"-A {raw_name}" + ("" if value is None else f"={value}")
        if name not in OPTIONS:
            raise UsageError(f"{where}: {_refusal(raw_name)}",
                             hint=f"supported: {', '.join(sorted(OPTIONS))} (docs/docker.md)")
        kind, keyword, convert = OPTIONS[name]
        if (kind == "flag") != (value is None):
            need = "takes no value" if kind == "flag" else "needs a value: -A NAME=VALUE"
            raise UsageError(f"{where}: {name} {need}")
        if value is None:  # a flag
            settings.options[keyword] = True
            settings.given_args.append(name)
            continue
        _apply(settings, name, kind, keyword, convert, value, where, project_root, environ)
        shown = value if name != "env" else value.partition("=")[0]  # a variable's value may be secret
        settings.given_args.append(f"{name}={shown}")


def _apply(settings: RunSettings, name: str, kind: str, keyword: str, convert: Converter, value: str,
           where: str, project_root: Path, environ: Mapping[str, str]) -> None:
    if name == "env":
        key, val = _env_assignment(value, where, environ)
        settings.env[key] = val
    elif name == "volume":
        settings.mounts.append(parse_volume(value, project_root, where))
    elif name == "network":
        settings.network = parse_network(value, where)
    elif name == "workdir":
        if not value.startswith("/"):
            raise UsageError(f"{where}: the working directory must be an absolute path")
        settings.workdir = value
    elif kind == "list":
        settings.options.setdefault(keyword, []).append(convert(value, where))
    elif kind == "map":
        settings.options.setdefault(keyword, {}).update(convert(value, where))
    else:
        if keyword in settings.options:
            raise UsageError(f"{where}: {name} is given twice")
        settings.options[keyword] = convert(value, where)


def _refusal(name: str) -> str:
    if name.startswith("-"):
        return f"write the option name without dashes, e.g. -A {name.lstrip('-')}=VALUE"
    reasons = {"rm": "proj always removes the container after the run",
               "name": "proj names the container after the run id",
               "entrypoint": "the entry point's command is what runs",
               "d": "proj runs containers attached", "detach": "proj runs containers attached",
               "i": "proj runs containers without input", "t": "proj runs containers without a terminal",
               "it": "proj runs containers without a terminal", "pull": "use proj run --pull"}
    reason = reasons.get(name)
    return f"{name!r} is not a docker run option proj passes on" + (f" ({reason})" if reason else "")


def _env_assignment(value: str, where: str, environ: Mapping[str, str]) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not key:
        raise UsageError(f"{where}: expected NAME=VALUE or NAME")
    if sep:
        return key, val
    if key not in environ:
        raise UsageError(f"{where}: {key} is not set on this machine", hint=f"give a value: -A env={key}=VALUE")
    return key, environ[key]


def _text(value: str, where: str) -> str:
    if not value:
        raise UsageError(f"{where}: the value is empty")
    return value


def _integer(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{where}: {value!r} is not a whole number") from None


def _size(value: str, where: str) -> int:
    """Bytes from `512m`, `1g`, `1.5GiB`... (binary units, as docker reads them); -1 = unlimited."""
    if value.strip() == "-1":
        return -1
    match = _SIZE.match(value.strip())
    if not match:
        raise UsageError(f"{where}: {value!r} is not a size such as 512m or 2g")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _cpus(value: str, where: str) -> int:
    try:
        cpus = float(value)
    except ValueError:
        cpus = -1.0
    if cpus <= 0:
        raise UsageError(f"{where}: {value!r} is not a positive number of CPUs")
    return round(cpus * 1e9)  # the API counts in billionths of a CPU


def _gpus(value: str, where: str) -> dict[str, Any]:
    """`all`, a count, or `device=ID[,ID...]` (docker run --gpus)."""
    spec = value.strip('"')
    request: dict[str, Any] = {"capabilities": [["gpu"]]}
    if spec == "all":
        request["count"] = -1
    elif spec.isdigit():
        request["count"] = int(spec)
    elif spec.startswith("device="):
        request["device_ids"] = [item for item in spec[len("device="):].split(",") if item]
    else:
        raise UsageError(f"{where}: use gpus=all, gpus=N or gpus=device=ID[,ID]")
    return request


def _ulimit(value: str, where: str) -> dict[str, Any]:
    name, sep, limits = value.partition("=")
    soft, _, hard = limits.partition(":")
    if not (name and sep and soft):
        raise UsageError(f"{where}: use ulimit=NAME=SOFT[:HARD], e.g. ulimit=nofile=1024:2048")
    return {"name": name, "soft": _integer(soft, where), "hard": _integer(hard or soft, where)}


def _host_entry(value: str, where: str) -> dict[str, Any]:
    host, sep, address = value.partition(":")
    if not (host and sep and address):
        raise UsageError(f"{where}: use add-host=NAME:ADDRESS (ADDRESS may be host-gateway)")
    return {host: address}


def _tmpfs(value: str, where: str) -> dict[str, Any]:
    path, _, options = value.partition(":")
    if not path.startswith("/"):
        raise UsageError(f"{where}: use tmpfs=/PATH[:OPTIONS]")
    return {path: options}


def _label(value: str, where: str) -> dict[str, Any]:
    key, _, val = value.partition("=")
    if not key:
        raise UsageError(f"{where}: use label=KEY=VALUE")
    return {key: val}


# docker run option -> (how it is given, docker SDK `containers.create` keyword, converter)
OPTIONS: dict[str, tuple[str, str, Converter]] = {
    "add-host": ("map", "extra_hosts", _host_entry),
    "cap-add": ("list", "cap_add", _text),
    "cap-drop": ("list", "cap_drop", _text),
    "cpu-shares": ("value", "cpu_shares", _integer),
    "cpus": ("value", "nano_cpus", _cpus),
    "cpuset-cpus": ("value", "cpuset_cpus", _text),
    "device": ("list", "devices", _text),
    "env": ("list", "environment", _text),
    "gpus": ("list", "device_requests", _gpus),
    "group-add": ("list", "group_add", _text),
    "hostname": ("value", "hostname", _text),
    "ipc": ("value", "ipc_mode", _text),
    "label": ("map", "labels", _label),
    "memory": ("value", "mem_limit", _size),
    "memory-reservation": ("value", "mem_reservation", _size),
    "memory-swap": ("value", "memswap_limit", _size),
    "network": ("value", "network_mode", _text),
    "pids-limit": ("value", "pids_limit", _integer),
    "platform": ("value", "platform", _text),
    "privileged": ("flag", "privileged", _text),
    "read-only": ("flag", "read_only", _text),
    "runtime": ("value", "runtime", _text),
    "security-opt": ("list", "security_opt", _text),
    "shm-size": ("value", "shm_size", _size),
    "tmpfs": ("map", "tmpfs", _tmpfs),
    "ulimit": ("list", "ulimits", _ulimit),
    "user": ("value", "user", _text),
    "volume": ("list", "volumes", _text),
    "workdir": ("value", "working_dir", _text),
}
# One-letter and older spellings docker run accepts for the same options.
ALIASES = {"c": "cpu-shares", "e": "env", "h": "hostname", "l": "label", "m": "memory", "net": "network",
           "u": "user", "v": "volume", "w": "workdir"}


def default_network(environ: Mapping[str, str] = os.environ) -> str | None:
    value = environ.get(NETWORK_VARIABLE)
    return parse_network(value, NETWORK_VARIABLE) if value else None
