"""`conda_env`: the conda environment file an MLproject names, checked and turned into a model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.problems import Problem


@dataclass(frozen=True)
class CondaEnv:
    """A conda environment file: channels, conda match specs and a pip list."""

    file: Path
    name: str | None
    channels: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    variables: tuple[tuple[str, str], ...] = field(default=())

    section = "conda_env"

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

    def summary(self) -> str:
        return f"conda_env ({self.file.name}: {len(self.dependencies)} conda packages, {len(self.pip)} pip)"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.section, "file": str(self.file), "name": self.name, "channels": list(self.channels),
                "dependencies": list(self.dependencies), "pip": list(self.pip)}


def check_conda_env(path: Path, project_root: Path) -> tuple[CondaEnv | None, list[Problem]]:
    from runner.schema_check import read_checked  # PyYAML and the schemas: only once a file is read

    document, problems = read_checked(path, "conda-environment")
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
