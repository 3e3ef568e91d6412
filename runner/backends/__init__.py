"""Backends by name: the built-in `local`, and plugins under the entry-point group `proj.backends`."""

from __future__ import annotations

from runner.backends.base import Backend, Job, JobResult, JobState
from runner.errors import UsageError

ENTRY_POINT_GROUP = "proj.backends"


def _local() -> Backend:
    from runner.backends.local import LocalBackend

    return LocalBackend()


def get_backend(name: str) -> Backend:
    if name == "local":  # the common case skips the entry-point scan (start-up budget)
        return _local()
    from runner.plugins import load_plugins

    factories = load_plugins(ENTRY_POINT_GROUP, builtins={"local": _local}, kind="backend")
    if name not in factories:
        raise UsageError(f"Unknown backend {name!r}; choose one of {', '.join(sorted(factories))}")
    return factories[name]()


__all__ = ["Backend", "Job", "JobResult", "JobState", "get_backend"]
