"""Backends by name: the built-ins `local` and `slurm`, and plugins under the entry-point group
`proj.backends` (docs/plugins.md, "Backend plugins").

A backend is made by a factory called with its configuration (`--backend-config`, a dict; empty
when none was given). It is either an AttachedBackend (runs a job while proj waits) or a
Scheduler (submits jobs that outlive proj): runner.backends.base.
"""

from __future__ import annotations

from typing import Any, Mapping

from runner.backends.base import AttachedBackend, Backend, Job, JobResult, JobState, JobStatus, Scheduler
from runner.errors import UsageError

ENTRY_POINT_GROUP = "proj.backends"


AnyBackend = AttachedBackend | Scheduler


def _local(config: Mapping[str, Any]) -> AnyBackend:
    from runner.backends.local import LocalBackend

    if config:
        raise UsageError("The local backend takes no --backend-config",
                         hint="--backend-config is for schedulers such as -b slurm")
    return LocalBackend()


def _slurm(config: Mapping[str, Any]) -> AnyBackend:
    from runner.backends.slurm import SlurmBackend

    return SlurmBackend.from_config(config)


BUILTINS = {"local": _local, "slurm": _slurm}


def get_backend(name: str, config: Mapping[str, Any] | None = None) -> AnyBackend:
    if name in BUILTINS:  # the common case skips the entry-point scan (start-up budget)
        return BUILTINS[name](dict(config or {}))
    from runner.plugins import load_plugins

    factories = load_plugins(ENTRY_POINT_GROUP, builtins=BUILTINS, kind="backend")
    if name not in factories:
        raise _unknown_backend(name, sorted(factories))
    backend = factories[name](dict(config or {}))
    if not isinstance(backend, (AttachedBackend, Scheduler)):
        from runner.errors import PluginError

        raise PluginError(f"The backend plugin {name!r} returned {type(backend).__name__}, "
                          "not an AttachedBackend or a Scheduler (runner.backends.base)")
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


def get_scheduler(name: str) -> Scheduler:
    """The scheduler that holds jobs of runs recorded with backend `name` (to ask about them)."""
    backend = get_backend(name)
    if not isinstance(backend, Scheduler):
        raise UsageError(f"The {name} backend is not a scheduler: its runs have no job to ask about")
    return backend


__all__ = ["AnyBackend", "AttachedBackend", "Backend", "Job", "JobResult", "JobState", "JobStatus", "Scheduler",
           "get_backend", "get_scheduler"]
