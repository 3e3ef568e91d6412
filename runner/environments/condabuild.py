"""Building one conda environment: solve (or read the lock), install, the pip list, the lock.

`CondaBuild.build` runs in the staging folder with the final prefix written into the files
(conda environments are not relocatable); `CondaBuild.finish` runs after the rename, because uv
writes the absolute path of the environment's Python into the scripts it installs.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.environments import cache, condasolve
from runner.environments.base import Progress
from runner.environments.condalock import LockContents, LockedPackage, read_lock, render_lock
from runner.environments.condaspec import (
    KEPT_BUILD_LOG,
    KEPT_LOCK,
    CondaOptions,
    CondaSpec,
    environment_key,
    environment_metadata,
    mirrored_url,
)
from runner.environments.pycache import add_bytecode_hook
from runner.errors import EnvironmentSetupError, UsageError
from runner.locations import cache_dir

if TYPE_CHECKING:
    from rattler import RepoDataRecord


class CondaBuild:
    """The steps `cache.ensure` runs for one environment; remembers what they installed."""

    def __init__(self, spec: CondaSpec, lock_path: Path | None, options: CondaOptions, progress: Progress,
                 key: str) -> None:
        self.spec = spec
        self.lock_path = lock_path
        self.options = options
        self.progress = progress
        self.key = key
        self.log: list[str] = []
        self.started = time.monotonic()
        self.locked: LockContents | None = None
        self.conda: list[LockedPackage] = []
        self.phases: dict[str, float] = {}  # seconds per step, so the slow one shows in the build log

    def build(self, staging: Path, final: Path) -> dict[str, Any]:
        if self.lock_path is not None:
            records = self._records_from_lock()
        else:
            channels = ", ".join(self.spec.channels)
            self._say(f"solving the conda environment of {self.spec.file.name} ({channels})")
            started = time.monotonic()
            records = condasolve.solve(self.spec, cache_dir("conda", "repodata"))
            self.conda = condasolve.locked_from_records(records)
            self.phases["solve"] = time.monotonic() - started
        self._say(f"installing {len(records)} conda packages into {final}")
        started = time.monotonic()
        times = condasolve.install(records, staging, final, cache_dir("conda", "pkgs"))
        self.phases["install"] = time.monotonic() - started
        self.phases["download and extract"], self.phases["link"] = times.fetch_seconds(), times.link_seconds()
        self._say(f"installed in {self.phases['install']:.1f} s: {times.downloads} packages downloaded; "
                  f"filling the package cache took {times.fetch_seconds():.1f} s, linking "
                  f"{times.link_seconds():.1f} s (the two overlap)")
        python = next((p.version for p in self.conda if p.name == "python"), None)
        return {"installed_from": "lock" if self.locked else "solve", "packages": len(records),
                "python": python}

    def finish(self, final: Path) -> dict[str, Any]:
        started = time.monotonic()
        pip = self._install_pip(final)
        if pip:
            self.phases["pip"] = time.monotonic() - started
        if list(final.glob("lib/python*/site-packages")):  # rattler compiles no bytecode either
            add_bytecode_hook(final)
        started = time.monotonic()
        (final / KEPT_LOCK).write_bytes(self._lock_bytes(pip))
        self.phases["lock"] = time.monotonic() - started
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.phases.items())
        self._say(f"conda environment {self.key} ready in {time.monotonic() - self.started:.1f} s ({phases})")
        (final / KEPT_BUILD_LOG).write_text("\n".join(self.log) + "\n")
        return {"pip_packages": len(pip), "phase_seconds": {k: round(v, 3) for k, v in self.phases.items()}}

    def _records_from_lock(self) -> list[RepoDataRecord]:
        assert self.lock_path is not None
        self.locked = read_lock(self.lock_path, self.spec.platform)
        if self.options.frozen and self.spec.pip and not self.locked.pip:
            raise UsageError(f"--frozen: {self.lock_path} locks no pip packages, but {self.spec.file} "
                             "has a pip: list", hint="re-lock with `proj env lock`")
        # An alias redirects conda.anaconda.org URLs to the mirror; the hashes must still match.
        self.conda = [replace(p, url=mirrored_url(p.url, self.spec.alias)) for p in self.locked.conda]
        self._say(f"installing exactly what {self.lock_path} locks for {self.spec.platform} (no solve)")
        condasolve.check_local_archives(self.conda, self.lock_path)
        return condasolve.records_from_lock(self.conda, self.lock_path)

    def _install_pip(self, final: Path) -> tuple[LockedPackage, ...]:
        from runner.environments import condapip

        locked_pip = self.locked.pip if self.locked else ()
        if not locked_pip and not self.spec.pip:
            return ()
        python = final / "bin" / "python"
        if not python.exists():
            raise EnvironmentSetupError(
                f"{self.spec.file} has a pip: list, but the environment has no Python to install "
                "it into", hint="add python (and pip) to the dependencies")
        cwd = self.spec.file.parent
        if locked_pip:
            self._say(f"installing {len(locked_pip)} locked pip packages with uv")
            condapip.install_locked(python, locked_pip, cwd, self._tool_line)
            return locked_pip
        self._say(f"installing the pip: list of {self.spec.file.name} with uv")
        return condapip.install_requirements(python, self.spec.pip, cwd, self._tool_line)

    def _lock_bytes(self, pip: tuple[LockedPackage, ...]) -> bytes:
        """What the run records: the lock installed from, else the lock of what was solved."""
        if self.locked is not None and self.lock_path is not None and pip == self.locked.pip:
            return self.lock_path.read_bytes()
        return render_lock(platform=self.spec.platform, channels=self.spec.channels,
                           source=self.spec.file.name, content_hash=self.key,
                           packages=[*self.conda, *pip])

    def _say(self, message: str) -> None:
        self.log.append(message)
        self.progress(message)

    def _tool_line(self, line: str) -> None:
        self.log.append(line)
        if self.options.verbose:
            self.progress(line)


def fresh_lock(spec: CondaSpec, options: CondaOptions, progress: Progress, project_root: Path) -> bytes:
    """conda-lock.yml for the environment file as it is now (for `proj env lock`)."""
    key = environment_key(spec, None)
    if not spec.pip:  # a solve is enough: nothing is installed
        progress(f"solving the conda environment of {spec.file.name} ({', '.join(spec.channels)})")
        records = condasolve.solve(spec, cache_dir("conda", "repodata"))
        return render_lock(platform=spec.platform, channels=spec.channels, source=spec.file.name,
                           content_hash=key, packages=condasolve.locked_from_records(records))
    # uv resolves the pip list only against a real environment: build it (or reuse it).
    builder = CondaBuild(spec, None, replace(options, frozen=False, lock_file=None), progress, key)
    environment = cache.ensure(key, builder.build, finish=builder.finish,
                               metadata=environment_metadata(spec, None, project_root),
                               progress=progress)
    return (environment.path / KEPT_LOCK).read_bytes()
