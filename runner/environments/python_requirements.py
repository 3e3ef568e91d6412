"""What a Python environment is built from, and the lock file that records what it holds.

`python_spec` reads the project's environment file (python_env.yaml, or a conda.yaml converted
as MLflow does for a Python-only manager). The lock is a pip requirements file with exact
versions and sha256 hashes, so `uv pip sync` and `pip install --no-deps` can install it too.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from runner.environments.conda_section import CondaEnv
from runner.environments.python_section import PythonEnv, referenced_files
from runner.errors import EnvironmentSetupError
from runner.project import Project
from runner.version import __version__

LOCK_NAME = "python_env.lock"
# Options that say where packages come from; a lock must keep them to be installable.
_SOURCE_OPTION = re.compile(r"^(-i|--index-url|--extra-index-url|-f|--find-links|--no-index)(\s|=|$)")
_INPUTS_LINE = re.compile(r"^# inputs: (?P<digest>[0-9a-f]+)\s*$", re.MULTILINE)
# pip, setuptools and wheel in a conda.yaml become build dependencies; MLflow does the same.
_CONDA_BUILD_TOOL = re.compile(r"^(?P<name>pip|setuptools|wheel)\s*(?P<op>==|=|>=|<=|!=|>|<)?\s*(?P<version>[\d.*]+)?$")


@dataclass(frozen=True)
class PythonSpec:
    root: Path  # the project folder: requirement paths are relative to it
    source: Path | None  # the environment file, None when the project has none
    python: str | None
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()  # conda packages a Python-only manager cannot install

    @property
    def source_name(self) -> str:
        return self.source.name if self.source is not None else "the project"

    @property
    def lock_path(self) -> Path:
        """Where `proj env lock` writes the lock, and where a committed one is picked up."""
        return (self.source.parent if self.source is not None else self.root) / LOCK_NAME

    @property
    def requirements(self) -> tuple[str, ...]:
        return self.build_dependencies + self.dependencies


def python_spec(project: Project) -> PythonSpec:
    env = project.environment
    if isinstance(env, PythonEnv):
        return PythonSpec(project.root, env.file, env.python, env.build_dependencies, env.dependencies)
    if isinstance(env, CondaEnv):
        return _from_conda(project.root, env)
    return PythonSpec(project.root, None, None)


def _from_conda(root: Path, env: CondaEnv) -> PythonSpec:
    build, dropped = [], []
    for package in env.conda_packages():
        match = _CONDA_BUILD_TOOL.match(package.strip())
        if match is None:
            dropped.append(package)
            continue
        op, version = match.group("op"), match.group("version") or ""
        if op == "=":  # conda's `pip=23.1` means 23.1.*
            op, version = "==", version if version.endswith("*") else f"{version}.*"
        build.append(f"{match.group('name')}{op or ''}{version}")
    return PythonSpec(root, env.file, env.python_pin(), tuple(build), env.pip, tuple(dropped))


def requirement_files(spec: PythonSpec) -> list[Path]:
    """Every file named by `-r`/`-c`, followed into nested files (relative to the file naming
    them, as pip does), each once."""
    found: list[Path] = []
    pending = [(spec.root / name, spec.source_name) for name in referenced_files(spec.requirements)]
    while pending:
        path, named_by = pending.pop(0)
        path = path.resolve()
        if path in found:
            continue
        try:
            lines = path.read_text().splitlines()
        except OSError as err:
            raise EnvironmentSetupError(
                f"Requirements file {path} (named in {named_by}) cannot be read: {err.strerror}") from err
        found.append(path)
        pending += [(path.parent / name, path.name) for name in referenced_files(tuple(lines))]
    return found


def key_parts(spec: PythonSpec) -> list[tuple[str, bytes | str]]:
    """The spec's contribution to an environment key (the interpreter is added by the caller)."""
    parts: list[tuple[str, bytes | str]] = [
        ("build_dependencies", "\n".join(spec.build_dependencies)),
        ("dependencies", "\n".join(spec.dependencies)),
    ]
    for path in requirement_files(spec):
        parts.append((f"file:{_relative(path, spec.root)}", path.read_bytes()))
    return parts


def inputs_digest(spec: PythonSpec) -> str:
    """A hash of what the lock was made from, kept in it to tell a stale lock."""
    digest = hashlib.sha256()
    for name, value in sorted(key_parts(spec), key=lambda part: part[0]):
        digest.update(f"{name}\0".encode())
        digest.update(value.encode() if isinstance(value, str) else value)
    return digest.hexdigest()[:16]


def requirements_input(lines: tuple[str, ...], root: Path) -> str:
    """A requirements file for the installer, with `-r`/`-c` paths made absolute so that it can
    live outside the project; the installer runs in the project folder for other relative paths."""
    out = []
    for line in lines:
        names = referenced_files((line,))
        if names:
            option = line.strip().split()[0].split("=")[0]
            line = f"{option} {(root / names[0]).resolve()}"
        out.append(line)
    return "\n".join(out) + "\n"


def source_options(spec: PythonSpec) -> list[str]:
    """Index and find-links options written in the requirements, to carry into the lock."""
    lines = list(spec.requirements)
    for path in requirement_files(spec):
        lines += path.read_text().splitlines()
    return list(dict.fromkeys(line.strip() for line in lines if _SOURCE_OPTION.match(line.strip())))


def lock_text(spec: PythonSpec, python: str, installer: str, body: str) -> str:
    header = [
        f"# {LOCK_NAME}: the exact Python environment of {spec.source_name}, written by proj {__version__}.",
        "# proj installs exactly this (also: `uv pip sync` or `pip install --no-deps -r`).",
        f"# Regenerate with `proj env lock` after changing {spec.source_name}.",
        f"# python: {python}; installer: {installer}",
        f"# inputs: {inputs_digest(spec)}",
        *source_options(spec),
    ]
    return "\n".join(header) + "\n" + body.strip("\n") + "\n"


def lock_is_stale(spec: PythonSpec, text: str) -> bool:
    """True when a lock written by proj was made from other inputs than the spec's current ones."""
    match = _INPUTS_LINE.search(text)
    return match is not None and match.group("digest") != inputs_digest(spec)


def locked_requirements(text: str) -> list[str]:
    """The requirement entries of a lock (continuation lines joined, comments and options left out)."""
    joined = re.sub(r"\\\n", " ", text)
    entries = []
    for line in joined.splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")):
            entries.append(line)
    return entries


def all_hashed(text: str) -> bool:
    entries = locked_requirements(text)
    return bool(entries) and all("--hash=" in entry for entry in entries)


def requirement_name(requirement: str) -> str | None:
    """The project name a requirement line names (`scikit-learn>=1 ; ...` → scikit-learn)."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None or requirement.strip().startswith("-"):
        return None
    return match.group(1)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)
