"""Environment kinds, and MLflow's rules for choosing one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.environments.base import Environment, PreparedEnvironment
from runner.errors import UsageError
from runner.invocation import Invocation
from runner.spec import Project

MANAGERS = ("local", "virtualenv", "uv", "conda", "docker")
_SYNONYMS = {"uv": "virtualenv"}  # `uv` names the same uv-backed builder as `virtualenv`


def choose_manager(project: Project, requested: str | None) -> str:
    """The environment kind to use: the one asked for, else the one the project declares; a
    docker_env project always runs in docker."""
    kind = project.environment.kind if project.environment is not None else None
    if requested is None:
        return {"docker_env": "docker", "python_env": "virtualenv", "conda_env": "conda"}.get(kind, "local")
    if requested not in MANAGERS:
        raise UsageError(f"Unknown environment manager {requested!r}; choose one of {', '.join(MANAGERS)}")
    manager = _SYNONYMS.get(requested, requested)
    if kind == "docker_env":
        return "docker"  # as MLflow: docker_env wins over --env-manager (the caller warns)
    if manager == "docker":
        raise UsageError("--env-manager docker needs a project with docker_env")
    return manager


@dataclass(frozen=True)
class EnvironmentOptions:
    """How to build environments; set from `proj run` options."""

    installer: str = "uv"  # uv, or pip (virtualenv + pip) for Python environments
    frozen: bool = False  # install only what a lock lists; never resolve
    lock_file: Path | None = None  # an explicit lock to install (re-runs, --lock)
    conda_channel_alias: str | None = None  # mirror for channel names such as conda-forge
    build_image: bool = True  # docker: build a project image on top of the base image
    pull: bool = False  # docker: pull a missing base image instead of failing
    docker_args: tuple[tuple[str, str | None], ...] = ()  # docker: -A NAME[=VALUE]
    verbose: bool = False  # show build output live


def create_environment(manager: str, project: Project, options: EnvironmentOptions) -> Environment:
    if manager == "local":
        from runner.environments.local import LocalEnvironment

        return LocalEnvironment()
    if manager == "virtualenv":
        from runner.environments.virtualenv import VirtualEnvironment

        return VirtualEnvironment(project, options)
    if manager == "conda":
        from runner.environments.conda import CondaEnvironment

        return CondaEnvironment(project, options)
    if manager == "docker":
        from runner.environments.docker import DockerEnvironment

        return DockerEnvironment(project, options)
    raise UsageError(f"Unknown environment manager {manager!r}; choose one of {', '.join(MANAGERS)}")


__all__ = ["Environment", "EnvironmentOptions", "Invocation", "PreparedEnvironment", "choose_manager",
           "create_environment", "MANAGERS"]
