"""Backends by name: the built-ins `local` and `slurm`, and plugins under the entry-point group
`proj.backends` (docs/plugins.md, "Backend plugins").

A backend is made by a factory called with its configuration (`--backend-config`, a dict; empty
when none was given).
"""

from __future__ import annotations

from typing import Any, Mapping

from runner.backends.base import Backend, Job, JobResult, JobState, JobStatus
from runner.errors import UsageError

ENTRY_POINT_GROUP = "proj.backends"


def _local(config: Mapping[str, Any]) -> Backend:
    from runner.backends.local import LocalBackend

    if config:
        raise UsageError("The local backend takes no --backend-config",
                         hint="--backend-config is for schedulers such as -b slurm")
    return LocalBackend()


def _slurm(config: Mapping[str, Any]) -> Backend:
    from runner.backends.slurm import SlurmBackend

    return SlurmBackend.from_config(config)


BUILTINS = {"local": _local, "slurm": _slurm}


def get_backend(name: str, config: Mapping[str, Any] | None = None) -> Backend:
    if name in BUILTINS:  # the common case skips the entry-point scan (start-up budget)
        return BUILTINS[name](dict(config or {}))
    from runner.plugins import load_plugins

    factories = load_plugins(ENTRY_POINT_GROUP, builtins=BUILTINS, kind="backend")
    if name not in factories:
        raise UsageError(f"Unknown backend {name!r}; choose one of {', '.join(sorted(factories))}")
    backend = factories[name](dict(config or {}))
    if not isinstance(backend, Backend):
        from runner.errors import PluginError

        raise PluginError(f"The backend plugin {name!r} returned {type(backend).__name__}, not a Backend")
    return backend


__all__ = ["Backend", "Job", "JobResult", "JobState", "JobStatus", "get_backend"]
