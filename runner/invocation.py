"""What a backend is asked to start: a command on the host, or a container.

An environment decides which (python and conda environments give a host command, docker
environments a container); a backend declares the kinds it accepts (`Backend.accepts`) and
dispatches on the `kind` tag. The tag is a Literal, so a type checker narrows `Invocation` to
the right class after `if invocation.kind == "container":`.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping, NamedTuple, Union

InvocationKind = Literal["host", "container"]
INVOCATION_KINDS: tuple[InvocationKind, ...] = ("host", "container")

# How messages name each kind ("... runs as a container").
KIND_DESCRIPTIONS: Mapping[InvocationKind, str] = {
    "host": "a command on the host",
    "container": "a container",
}


class HostInvocation(NamedTuple):
    """A process to start on this machine (or a node that sees the same files): argv, its
    whole environment, its working folder."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    kind: Literal["host"] = "host"


class ContainerMount(NamedTuple):
    """A host folder (or a named docker volume) made visible inside a container."""

    source: str  # an absolute host path, or a volume name
    target: str  # an absolute path inside the container
    read_only: bool = False
    kind: str = "bind"  # bind | volume


class ContainerInvocation(NamedTuple):
    """A container to run: the environment decided what it is, a backend starts and stops it.

    `env` is everything the container gets (never the host's whole environment); `options`
    are further `docker run` settings as docker SDK `create` keywords holding plain values.
    """

    image: str  # an image id or tag present on the daemon
    argv: tuple[str, ...]
    env: Mapping[str, str]
    workdir: str
    mounts: tuple[ContainerMount, ...] = ()
    options: Mapping[str, Any] = MappingProxyType({})
    labels: Mapping[str, str] = MappingProxyType({})
    name: str | None = None
    kind: Literal["container"] = "container"


Invocation = Union[HostInvocation, ContainerInvocation]
