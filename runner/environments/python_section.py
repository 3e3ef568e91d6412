"""`python_env`: the python_env.yaml file an MLproject names, checked and turned into a model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.project import inside_folder

if TYPE_CHECKING:
    from runner.problems import Problem
    from runner.yamldoc import YamlDocument

# `-r FILE`, `--requirement FILE`, `-c FILE`, `--constraint FILE` (with a space or `=`).
_FILE_OPTION = re.compile(r"^(?:-r|--requirement|-c|--constraint)(?:\s+|=)(?P<file>\S.*)$")


@dataclass(frozen=True)
class PythonEnv:
    """A python_env.yaml: interpreter version and pip requirements."""

    file: Path
    python: str | None
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()

    section = "python_env"

    def summary(self) -> str:
        python = f"python {self.python}" if self.python else "any python"
        return f"python_env ({self.file.name}: {python}, {len(self.dependencies)} dependencies)"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.section, "file": str(self.file), "python": self.python,
                "build_dependencies": list(self.build_dependencies), "dependencies": list(self.dependencies)}


def referenced_files(requirements: tuple[str, ...]) -> list[str]:
    """The files named by `-r`/`-c` lines in a requirement list, as written."""
    files = []
    for line in requirements:
        match = _FILE_OPTION.match(line.strip())
        if match:
            files.append(match.group("file").strip())
    return files


def check_python_env(path: Path, project_root: Path) -> tuple[PythonEnv | None, list[Problem]]:
    from runner.schema_check import read_checked  # PyYAML and the schemas: only once a file is read

    document, problems = read_checked(path, "python_env")
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
