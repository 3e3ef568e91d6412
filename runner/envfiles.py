"""Environment files an MLproject refers to: python_env.yaml and conda environment files.

Each is parsed with positions, checked against its schema, and returned as a frozen model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import SpecError
from runner.problems import Problem
from runner.schema_check import check_against_schema
from runner.yamldoc import YamlDocument, read_yaml

# `-r FILE`, `--requirement FILE`, `-c FILE`, `--constraint FILE` (with a space or `=`).
_FILE_OPTION = re.compile(r"^(?:-r|--requirement|-c|--constraint)(?:\s+|=)(?P<file>\S.*)$")


@dataclass(frozen=True)
class PythonEnv:
    """A python_env.yaml: interpreter version and pip requirements."""

    file: Path
    python: str | None
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()

    kind = "python_env"


@dataclass(frozen=True)
class CondaEnv:
    """A conda environment file: channels, conda match specs and a pip list."""

    file: Path
    name: str | None
    channels: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = field(default=())

    kind = "conda_env"

    def python_pin(self) -> str | None:
        """The version in a `python=3.11`-style dependency, as MLflow reads it; None if absent."""
        for spec in self.dependencies:
            match = re.fullmatch(r"python\s*(?:==?|\s)\s*([0-9][0-9.*]*)", spec.strip())
            if match:
                return match.group(1).rstrip(".*") or None
        return None

    def conda_packages(self) -> tuple[str, ...]:
        """The dependencies other than python itself (dropped under a Python-only manager)."""
        return tuple(d for d in self.dependencies if re.split(r"[\s=<>!~]", d.strip())[0] != "python")


def inside_folder(root: Path, name: str) -> bool:
    """Whether `root/name`, with every symlink resolved, is still inside `root`."""
    try:
        return (root / name).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop
        return False


def referenced_files(requirements: tuple[str, ...]) -> list[str]:
    """The files named by `-r`/`-c` lines in a requirement list, as written."""
    files = []
    for line in requirements:
        match = _FILE_OPTION.match(line.strip())
        if match:
            files.append(match.group("file").strip())
    return files


def check_python_env(path: Path, project_root: Path) -> tuple[PythonEnv | None, list[Problem]]:
    document, problems = _read_checked(path, "python_env")
    if document is None or any(p.is_error for p in problems):
        return None, problems
    data = document.data
    env = PythonEnv(
        file=path,
        python=data.get("python"),
        build_dependencies=tuple(data.get("build_dependencies") or ()),
        dependencies=tuple(data.get("dependencies") or ()),
    )
    for key in ("build_dependencies", "dependencies"):
        problems += _missing_requirement_files(document, key, project_root)
    return env, problems


def check_conda_env(path: Path, project_root: Path) -> tuple[CondaEnv | None, list[Problem]]:
    document, problems = _read_checked(path, "conda-environment")
    if document is None or any(p.is_error for p in problems):
        return None, problems
    data = document.data
    conda_specs, pip = [], []
    for item in data.get("dependencies") or ():
        if isinstance(item, dict):
            pip.extend(item["pip"])
        else:
            conda_specs.append(item)
    variables = tuple((str(k), str(v)) for k, v in (data.get("variables") or {}).items())
    env = CondaEnv(
        file=path,
        name=data.get("name"),
        channels=tuple(data.get("channels") or ()),
        dependencies=tuple(conda_specs),
        pip=tuple(pip),
        variables=variables,
    )
    return env, problems


def _read_checked(path: Path, schema: str) -> tuple[YamlDocument | None, list[Problem]]:
    try:
        document = read_yaml(path)
    except SpecError as err:
        return None, err.problems
    if document.data is None:
        return None, [document.problem((), "file is empty")]
    problems = check_against_schema(document, schema)
    problems += document.duplicate_key_problems()
    return document, problems


def _missing_requirement_files(document: YamlDocument, key: str, root: Path) -> list[Problem]:
    problems = []
    for index, line in enumerate(document.data.get(key) or ()):
        for name in referenced_files((line,)):
            if not inside_folder(root, name):
                message = f"{key}[{index}]: requirements file '{name}' is outside the project folder"
                problems.append(document.problem((key, index), message))
            elif not (root / name).is_file():
                message = f"{key}[{index}]: requirements file '{name}' not found in the project folder"
                problems.append(document.problem((key, index), message))
    return problems
