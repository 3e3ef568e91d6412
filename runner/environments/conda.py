"""Conda environments without conda: solved and installed by py-rattler, locked in conda-lock format.

    prepare()  spec → content key → (cached prefix | solve or read the lock → install → pip) → activate

The environment file is normalised in `condaspec` and hashed into the cache key. A ready
environment is reused without importing rattler or conda_lock: the warm path reads only the
cache marker and the lock kept in the prefix. Building lives in `condabuild` (solving in
`condasolve`, the lock format in `condalock`, the pip step in `condapip`); each imports its
heavy library only when it is called.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from runner.environments import cache
from runner.environments.base import Environment, HostInvocation, PreparedEnvironment, Progress
from runner.environments.condaspec import (
    KEPT_BUILD_LOG,
    KEPT_LOCK,
    LOCK_FILE_NAME,
    CondaOptions,
    CondaSpec,
    conda_spec,
    environment_key,
    environment_metadata,
)
from runner.errors import UsageError
from runner.extras import require_extra
from runner.locations import user_path
from runner.project import Project

_NEEDS_CONDA = "A conda environment (conda_env, or --env-manager conda)"


@dataclass(frozen=True)
class CondaPreparedEnvironment(PreparedEnvironment):
    """A ready conda prefix; the command runs after the prefix's activation scripts, as conda does."""

    activation_scripts: tuple[str, ...] = ()

    def invocation(self, command: str, cwd: Path, base_env: Mapping[str, str]) -> HostInvocation:
        invocation = self.host_invocation(command, cwd, base_env)
        if not self.activation_scripts:
            return invocation
        prelude = "".join(f". {shlex.quote(script)}\n" for script in self.activation_scripts)
        return invocation._replace(argv=(*invocation.argv[:-1], prelude + command))


class CondaEnvironment(Environment):
    name = "conda"

    def __init__(self, project: Project, options: CondaOptions) -> None:
        self.project = project
        self.options = options

    def prepare(self, progress: Progress) -> PreparedEnvironment:
        spec = conda_spec(self.project, self.options.conda_channel_alias)
        lock = self._lock_to_install(spec)
        if self.options.frozen and lock is None:
            raise UsageError(
                f"--frozen installs only from a lock, and there is no {LOCK_FILE_NAME} next to "
                f"{spec.file}",
                hint=f"write one with `proj env lock {self.project.root}`, or pass --lock FILE")
        key = environment_key(spec, lock)
        environment = cache.find(key)
        if environment is None:  # only now: the build path imports rattler (and conda_lock)
            require_extra("conda", _NEEDS_CONDA)
            from runner.environments.condabuild import CondaBuild

            builder = CondaBuild(spec, lock, self.options, progress, key)
            environment = cache.ensure(key, builder.build, finish=builder.finish,
                                       metadata=environment_metadata(spec, lock, self.project.root),
                                       progress=progress)
        return activated(environment, spec)

    def lock_files(self, progress: Progress) -> dict[str, bytes]:
        """Solve the environment file afresh (ignoring a shipped lock) and return conda-lock.yml."""
        spec = conda_spec(self.project, self.options.conda_channel_alias)
        require_extra("conda", _NEEDS_CONDA)
        from runner.environments.condabuild import fresh_lock

        lock = spec.file.parent / LOCK_FILE_NAME
        try:  # relative to the project folder when the environment file is inside it
            name = lock.relative_to(self.project.root).as_posix()
        except ValueError:
            name = str(lock)
        return {name: fresh_lock(spec, self.options, progress, self.project.root)}

    def _lock_to_install(self, spec: CondaSpec) -> Path | None:
        if self.options.lock_file is not None:
            path = user_path(self.options.lock_file).absolute()
            if not path.is_file():
                raise UsageError(f"--lock {self.options.lock_file}: no such file")
            return path
        shipped = spec.file.parent / LOCK_FILE_NAME
        return shipped if shipped.is_file() else None


def activated(environment: cache.CachedEnvironment, spec: CondaSpec) -> CondaPreparedEnvironment:
    """How to run inside the prefix: conda's variables, PATH and activate.d scripts (no rattler)."""
    prefix = environment.path
    variables = {"CONDA_PREFIX": str(prefix), "CONDA_DEFAULT_ENV": str(prefix), "CONDA_SHLVL": "1"}
    variables.update(spec.variables)
    scripts = tuple(str(p) for p in sorted((prefix / "etc" / "conda" / "activate.d").glob("*.sh")))
    kept_lock = prefix / KEPT_LOCK
    meta = environment.metadata
    return CondaPreparedEnvironment(
        kind="conda",
        key=environment.key,
        python=meta.get("python"),
        lock=kept_lock.read_bytes() if kept_lock.is_file() else None,
        lock_name=LOCK_FILE_NAME,
        build_log=_build_log(prefix) if environment.built_now else b"",
        details={"prefix": str(prefix), "platform": spec.platform, "channels": list(spec.channels),
                 "installed_from": meta.get("installed_from"), "packages": meta.get("packages"),
                 "reused": not environment.built_now},
        variables=variables,
        path_prepend=(str(prefix / "bin"),),
        activation_scripts=scripts,
    )


def _build_log(prefix: Path) -> bytes:
    try:
        return (prefix / KEPT_BUILD_LOG).read_bytes()
    except OSError:
        return b""
