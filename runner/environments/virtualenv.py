"""`--env-manager virtualenv` (and its synonym `uv`): a Python virtual environment per spec.

The environment is keyed by everything it is built from (the interpreter's exact version, the
requirements, every `-r`/`-c` file, the installer, and the lock when one is installed), built
once in the shared cache, and reused. A build resolves the requirements to a lock (exact
versions and hashes), then installs exactly that lock; the lock goes with every run. A lock
committed next to the environment file (python_env.lock), or given with --lock, is installed
as it is, without resolving.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.environments import cache
from runner.environments.base import Environment, PreparedEnvironment, Progress
from runner.environments.pycache import add_bytecode_hook
from runner.environments.python_installers import (
    BuildLog,
    Installer,
    PipInstaller,
    UvInstaller,
    python_in,
)
from runner.environments.python_interpreters import Interpreter, find_interpreter
from runner.environments.python_requirements import (
    LOCK_NAME,
    PythonSpec,
    all_hashed,
    key_parts,
    lock_is_stale,
    lock_text,
    locked_requirements,
    python_spec,
    requirement_files,
    requirement_name,
    requirements_input,
)
from runner.environments.uvtool import uv_runs
from runner.errors import EnvironmentSetupError, UsageError
from runner.locations import cache_dir
from runner.process import ToolError
from runner.project import Project

META_DIR = ".proj"  # inside an environment: its lock, build log and installer inputs


@dataclass(frozen=True)
class PythonOptions:
    """How to build a Python environment (from `proj run` options)."""

    installer: str = "uv"  # uv, or pip (virtualenv + pip)
    frozen: bool = False  # install only what a lock lists; never resolve
    lock_file: Path | None = None  # an explicit lock to install (re-runs, --lock)
    verbose: bool = False  # show build output live


@dataclass(frozen=True)
class LockInput:
    text: str
    origin: str  # where it came from, for messages and the record


class VirtualEnvironment(Environment):
    name = "virtualenv"

    def __init__(self, project: Project, options: PythonOptions) -> None:
        self.project = project
        self.options = options
        self.spec = python_spec(project)

    def prepare(self, progress: Progress) -> PreparedEnvironment:
        if self.spec.dropped:
            progress(f"warning: {self.spec.source_name} lists conda packages that a Python-only environment "
                     f"cannot install; leaving out: {', '.join(self.spec.dropped)} "
                     "(use --env-manager conda to install them)")
        lock = self._lock_to_install(progress)
        interpreter = _interpreter_for(self.spec, lock)
        parts = [*key_parts(self.spec), ("python", f"{interpreter.implementation} {interpreter.version}"),
                 ("installer", self.options.installer)]
        if lock is not None:
            parts.append(("lock", lock.text))
        key = cache.content_key(self.name, parts)
        build = _Build(self.spec, interpreter, self.options.installer, lock,
                       BuildLog(progress, self.options.verbose))
        metadata = {"kind": self.name, "project": str(self.project.root.resolve()), "project_name": self.project.name,
                    "env_file": str(self.spec.source or ""), "python": interpreter.version,
                    "interpreter": str(interpreter.path), "lock_source": lock.origin if lock else "resolved"}
        cached = cache.ensure(key, build.stage, finish=build.finish, metadata=metadata, progress=progress)
        if not cached.built_now:
            progress(f"using Python environment {key} (Python {cached.metadata.get('python')})")
        return _prepared(cached, build.log.text().encode() if cached.built_now else b"")

    def lock_files(self, progress: Progress) -> dict[str, bytes]:
        """Resolve the requirements afresh (ignoring any existing lock) into python_env.lock."""
        if self.spec.source is None:
            raise UsageError(f"{self.project.root} has no python_env.yaml or conda.yaml: nothing to lock")
        interpreter = find_interpreter(self.spec.python)
        build = _Build(self.spec, interpreter, self.options.installer, None,
                       BuildLog(progress, self.options.verbose))
        with tempfile.TemporaryDirectory(dir=cache_dir("tmp")) as scratch:
            text = build.resolve_only(Path(scratch))
        return {self._shown(self.spec.lock_path): text.encode()}

    def _lock_to_install(self, progress: Progress) -> LockInput | None:
        given = self.options.lock_file
        if given is not None:
            if not Path(given).is_file():
                raise UsageError(f"--lock {given}: no such file")
            return LockInput(Path(given).read_text(), f"--lock {given}")
        shipped = self.spec.lock_path
        if self.spec.source is not None and shipped.is_file():
            text = shipped.read_text()
            name = self._shown(shipped)
            if lock_is_stale(self.spec, text):
                progress(f"warning: {name} was made from a different {self.spec.source_name}; installing it "
                         f"anyway (run `proj env lock` to update it)")
            return LockInput(text, name)
        if self.options.frozen:
            raise EnvironmentSetupError(
                f"--frozen: there is no lock to install for {self.spec.source_name}",
                hint=f"pass --lock FILE (a run's {LOCK_NAME}), or commit one made by `proj env lock` "
                     f"as {self._shown(self.spec.lock_path)}")
        return None

    def _shown(self, path: Path) -> str:
        """A path relative to the project folder when it is inside it."""
        try:
            return str(path.relative_to(self.project.root))
        except ValueError:
            return str(path)


def _interpreter_for(spec: PythonSpec, lock: LockInput | None) -> Interpreter:
    """The spec's `python:`; with a lock, preferably the exact version the lock was made with."""
    match = re.search(r"^# python: (\d+\.\d+\.\d+)", lock.text, re.MULTILINE) if lock else None
    if match is not None:
        locked = match.group(1)
        if spec.python is None or locked.split(".")[: len(spec.python.split("."))] == spec.python.split("."):
            try:
                return find_interpreter(locked)
            except EnvironmentSetupError:
                pass  # not on this machine: any interpreter the spec allows will do
    return find_interpreter(spec.python)


def _prepared(cached: cache.CachedEnvironment, build_log: bytes) -> PreparedEnvironment:
    lock_file = cached.path / META_DIR / LOCK_NAME
    details = {key: cached.metadata.get(key) for key in ("interpreter", "installer", "lock_source")}
    details.update(path=str(cached.path), reused=not cached.built_now)
    return PreparedEnvironment(
        kind="virtualenv", key=cached.key, python=cached.metadata.get("python"),
        lock=lock_file.read_bytes() if lock_file.is_file() else None, lock_name=LOCK_NAME,
        build_log=build_log, details=details,
        variables={"VIRTUAL_ENV": str(cached.path)}, path_prepend=(str(cached.path / "bin"),),
    )


class _Build:
    """One environment build: uv builds in the staging folder; pip, which cannot relocate an
    environment, builds at the final path after the rename (the cache's `finish` step)."""

    def __init__(self, spec: PythonSpec, interpreter: Interpreter, installer: str, lock: LockInput | None,
                 log: BuildLog) -> None:
        self.spec = spec
        self.interpreter = interpreter
        self.requested = installer
        self.lock = lock
        self.log = log
        self.started = time.monotonic()
        self.installer: Installer | None = None

    def stage(self, staging: Path, final: Path) -> dict[str, Any]:
        self.started = time.monotonic()
        self.installer = self._choose_installer()
        self.log.step(f"building Python environment {final.name} (Python {self.interpreter.version}, "
                      f"{self.installer.name})")
        if isinstance(self.installer, UvInstaller):
            self._build_at(staging)
        else:
            staging.mkdir(parents=True)
        return {"installer": self.installer.name}

    def finish(self, final: Path) -> dict[str, Any]:
        if isinstance(self.installer, PipInstaller):
            self._build_at(final)
        seconds = time.monotonic() - self.started
        self.log.step(f"Python environment {final.name} ready in {seconds:.1f} s")
        (final / META_DIR / "build.log").write_text(self.log.text())
        return {"build_seconds": round(seconds, 2)}

    def resolve_only(self, scratch: Path) -> str:
        """A fresh lock without touching the cache: uv resolves alone; pip needs a throwaway env."""
        installer = self.installer = self._choose_installer()
        meta = scratch / META_DIR
        meta.mkdir(parents=True)
        try:
            if isinstance(installer, UvInstaller):
                body = self._resolve(meta, self.interpreter.path, installer) if self.spec.requirements else ""
                return lock_text(self.spec, self.interpreter.version, "uv", body)
            self._build_at(scratch / "env")
            return (scratch / "env" / META_DIR / LOCK_NAME).read_text()
        except ToolError as err:
            raise self._failure(err) from None

    def _choose_installer(self) -> Installer:
        cwd = self.spec.root
        if self.requested == "uv" and not uv_runs():
            self.log.step("uv cannot run on this machine; using virtualenv + pip instead")
            return PipInstaller(self.log, cwd)
        return UvInstaller(self.log, cwd) if self.requested == "uv" else PipInstaller(self.log, cwd)

    def _build_at(self, target: Path) -> None:
        installer = self.installer
        assert installer is not None, "stage() or resolve_only() chooses the installer first"
        try:
            installer.create(target, self.interpreter)
            meta = target / META_DIR
            meta.mkdir(exist_ok=True)
            text = (self._install_lock(target, meta, installer, self.lock) if self.lock
                    else self._install_spec(target, meta, installer))
            (meta / LOCK_NAME).write_text(text)
            add_bytecode_hook(target)  # after the installs: `uv pip sync` owns site-packages until then
        except ToolError as err:
            raise self._failure(err) from None

    def _install_lock(self, target: Path, meta: Path, installer: Installer, lock: LockInput) -> str:
        path = meta / LOCK_NAME
        path.write_text(lock.text)
        count = len(locked_requirements(lock.text))
        self.log.step(f"installing exactly the {count} packages of {lock.origin}")
        installer.install_lock(target, path, require_hashes=all_hashed(lock.text))
        installer.check(target)  # an incomplete lock installs "successfully"; this catches it
        return lock.text

    def _install_spec(self, target: Path, meta: Path, installer: Installer) -> str:
        spec = self.spec
        if isinstance(installer, PipInstaller):
            for name, lines in (("build-requirements", spec.build_dependencies), ("requirements", spec.dependencies)):
                if lines:
                    self.log.step(f"installing {', '.join(lines)}")
                    installer.install(target, self._input(meta, name, lines))
            return lock_text(spec, self.interpreter.version, "pip", installer.installed_lock(target))
        if not spec.requirements:
            return lock_text(spec, self.interpreter.version, "uv", "")
        body = self._resolve(meta, python_in(target), installer)
        resolved = meta / "resolved.txt"
        if spec.build_dependencies:  # first, as MLflow does, at the versions just resolved
            self.log.step(f"installing build dependencies: {', '.join(spec.build_dependencies)}")
            installer.install(target, self._input(meta, "build-requirements", spec.build_dependencies),
                              constraints=resolved)
        self.log.step(f"installing {len(locked_requirements(body))} packages")
        installer.install_lock(target, resolved, require_hashes=all_hashed(body))
        return lock_text(spec, self.interpreter.version, "uv", body)

    def _resolve(self, meta: Path, python: Path, installer: UvInstaller) -> str:
        count = len(self._requirement_lines())
        self.log.step(f"resolving {count} requirements of {self.spec.source_name}")
        return installer.resolve(self._input(meta, "requirements", self.spec.requirements), python,
                                      meta / "resolved.txt")

    def _input(self, meta: Path, name: str, lines: tuple[str, ...]) -> Path:
        path = meta / f"{name}.in"
        path.write_text(requirements_input(lines, self.spec.root))
        return path

    def _failure(self, err: ToolError) -> EnvironmentSetupError:
        summary = _error_summary(err.output)
        output = self.log.text()
        if self.lock is not None:
            return EnvironmentSetupError(
                f"Could not install {self.lock.origin} exactly: {summary}", output=output,
                hint="a lock must list every package with its exact version and hash, each still available "
                     "from your index; regenerate it with `proj env lock`")
        failed = _failed_requirement(summary, self._requirement_lines())
        if failed is not None:
            line, origin = failed
            return EnvironmentSetupError(
                f"Could not install requirement {line!r} ({origin}): {summary}", output=output,
                hint="check the requirement; to use your own package index set UV_INDEX_URL or "
                     "PIP_INDEX_URL (see docs/environments.md)")
        tool = " ".join(Path(err.argv[0]).name if i == 0 else a for i, a in enumerate(err.argv[:3]))
        status = "could not start" if err.returncode is None else f"exited with code {err.returncode}"
        return EnvironmentSetupError(f"Building the Python environment failed: `{tool}` {status}: {summary}",
                                     output=output)

    def _requirement_lines(self) -> list[tuple[str, str]]:
        """Each requirement of the spec and its files, with the file it is written in."""
        lines = [(line, self.spec.source_name) for line in self.spec.requirements]
        for path in requirement_files(self.spec):
            lines += [(line, path.name) for line in path.read_text().splitlines()]
        return [(line.strip(), origin) for line, origin in lines if requirement_name(line)]


_ERROR_LINE = re.compile(r"^\s*(error|ERROR|cause|hint|×|╰─▶|Caused by)\b|^\s*(×|╰─▶)")
_ERROR_PREFIX = re.compile(r"^(error:|ERROR:|cause:|×|╰─▶)\s*")


def _error_summary(output: str) -> str:
    """The tool's own explanation: its error lines, without the progress chatter."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if _ERROR_LINE.match(line)), None)
    if start is None:
        return lines[-1].strip() if lines else "(no output)"
    picked = [_ERROR_PREFIX.sub("", line.strip()) for line in lines[start:start + 12] if line.strip()]
    picked = [line for line in picked if line]
    text = picked[0].rstrip(":") + (": " + " ".join(picked[1:]) if picked[1:] else "")
    return text if len(text) <= 600 else text[:597] + "..."


def _failed_requirement(summary: str, requirements: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The first of the project's requirements that the tool's error message names."""
    for line, origin in requirements:
        name = requirement_name(line)
        if name is None:
            continue
        for variant in {name, name.replace("_", "-"), name.replace("-", "_")}:
            if re.search(rf"(?<![\w.-]){re.escape(variant)}(?![\w-])", summary, re.IGNORECASE):
                return line, origin
    return None
