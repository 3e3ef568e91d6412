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
        raise _unknown_backend(name, sorted(factories))
    backend = factories[name](dict(config or {}))
    if not isinstance(backend, Backend):
        from runner.errors import PluginError

        raise PluginError(f"The backend plugin {name!r} returned {type(backend).__name__}, not a Backend")
    return backend


# MLflow's own remote backends, which proj does not have: say what it offers instead.
_MLFLOW_REMOTE = {"kubernetes": "a Kubernetes cluster", "databricks": "Databricks"}


def _unknown_backend(name: str, known: list[str]) -> UsageError:
    choices = ", ".join(known)
    if name in _MLFLOW_REMOTE:
        return UsageError(
            f"proj does not run projects on {_MLFLOW_REMOTE[name]} (MLflow's -b {name})",
            hint=f"proj runs them on this machine (-b local), on a Slurm cluster (-b slurm, docs/slurm.md), "
                 f"or through a backend plugin (docs/plugins.md); installed backends: {choices}")
    return UsageError(f"Unknown backend {name!r}; choose one of {choices}",
                      hint="more backends can be installed as plugins (docs/plugins.md)")


__all__ = ["Backend", "Job", "JobResult", "JobState", "JobStatus", "get_backend"]
