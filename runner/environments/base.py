"""What every environment kind provides: prepare once, then say how to run a command inside."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Invocation:
    """A process to start: the backend runs it, the environment decided what it is."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path


@dataclass(frozen=True)
class ContainerMount:
    """A host folder (or a named docker volume) made visible inside a container."""

    source: str  # an absolute host path, or a volume name
    target: str  # an absolute path inside the container
    read_only: bool = False
    kind: str = "bind"  # bind | volume


@dataclass(frozen=True)
class ContainerInvocation:
    """A container to run: the environment decided what it is, a backend starts and stops it.

    `env` is everything the container gets (never the host's whole environment); `options`
    are further `docker run` settings as docker SDK `create` keywords holding plain values.
    """

    image: str  # an image id or tag present on the daemon
    argv: tuple[str, ...]
    env: Mapping[str, str]
    workdir: str
    mounts: tuple[ContainerMount, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    name: str | None = None


@dataclass(frozen=True)
class PreparedEnvironment:
    """A ready environment, and what the run record says about it."""

    kind: str
    key: str | None = None  # content hash of everything the environment was built from
    python: str | None = None
    lock: bytes | None = None  # the exact resolved contents, kept with the run
    lock_name: str | None = None  # file name for the lock (e.g. requirements.lock)
    build_log: bytes = b""
    details: Mapping[str, Any] = field(default_factory=dict)
    # Variables and PATH entries that activate the environment, applied to the child's env.
    variables: Mapping[str, str] = field(default_factory=dict)
    path_prepend: tuple[str, ...] = ()

    def invocation(self, command: str, cwd: Path, base_env: Mapping[str, str]) -> Invocation:
        env = dict(base_env)
        env.update(self.variables)
        if self.path_prepend:
            env["PATH"] = ":".join([*self.path_prepend, env.get("PATH", "")]).rstrip(":")
        return Invocation(("bash", "-c", command), env, cwd)


class Environment(ABC):
    """One kind of environment (local, virtualenv, conda, docker)."""

    name: ClassVar[str]

    @abstractmethod
    def prepare(self, progress: Progress) -> PreparedEnvironment:
        """Build the environment, or reuse an identical one built before."""

    def lock_files(self, progress: Progress) -> dict[str, bytes]:
        """Resolve without running anything; the lock files to commit next to the project's
        environment file (`proj env lock`), by file name relative to the project folder."""
        raise NotImplementedError(f"{self.name} environments have nothing to lock")
