"""What every environment kind provides: prepare once, then say how to run a command inside."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

# The invocation types live in runner.invocation (backends use them without environments);
# they are re-exported here for environment code and plugins.
from runner.invocation import ContainerInvocation, ContainerMount, HostInvocation, Invocation, InvocationKind

Progress = Callable[[str], None]


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
        """What a backend starts to run `command` in this environment."""
        return self.host_invocation(command, cwd, base_env)

    def host_invocation(self, command: str, cwd: Path, base_env: Mapping[str, str]) -> HostInvocation:
        """`command` run by bash on the host, with the environment's variables and PATH applied."""
        env = dict(base_env)
        env.update(self.variables)
        if self.path_prepend:
            env["PATH"] = ":".join([*self.path_prepend, env.get("PATH", "")]).rstrip(":")
        return HostInvocation(("bash", "-c", command), env, cwd)


class Environment(ABC):
    """One kind of environment (local, virtualenv, conda, docker)."""

    name: ClassVar[str]
    # What its prepared environments ask a backend to start (backends declare what they accept).
    invocation_kind: ClassVar[InvocationKind] = "host"

    @abstractmethod
    def prepare(self, progress: Progress) -> PreparedEnvironment:
        """Build the environment, or reuse an identical one built before."""

    def lock_files(self, progress: Progress) -> dict[str, bytes]:
        """Resolve without running anything; the lock files to commit next to the project's
        environment file (`proj env lock`), by file name relative to the project folder."""
        raise NotImplementedError(f"{self.name} environments have nothing to lock")


__all__ = ["ContainerInvocation", "ContainerMount", "Environment", "HostInvocation", "Invocation", "InvocationKind",
           "PreparedEnvironment", "Progress"]
