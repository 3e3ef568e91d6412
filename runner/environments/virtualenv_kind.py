"""The virtualenv kind (`--env-manager virtualenv`, or `uv`): python_env projects, built with uv.

It reads the MLproject's `python_env` (a python_env.yaml file), falls back to a python_env.yaml
in the project folder, and also runs conda projects (keeping their Python and pip packages, as
MLflow does). Building is `runner.environments.virtualenv`'s job, imported only when needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.environments.base import Environment
from runner.environments.kind import BuildSettings, EnvironmentKind, KindOption, read_file_section

if TYPE_CHECKING:
    from runner.problems import Problem
    from runner.project import EnvironmentSection, Project
    from runner.yamldoc import YamlDocument

CONVENTIONAL_FILE = "python_env.yaml"
# A pinned line of a python_env.lock: `name==version` or `name @ url`, extras allowed.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(==|@)\s*([^\s;\\]+)")


class VirtualenvKind(EnvironmentKind):
    name = "virtualenv"
    synonyms = ("uv",)  # the same uv-backed builder
    section = "python_env"
    lock_name = "python_env.lock"
    options = (
        KindOption("installer", "Python environments: uv, or pip (virtualenv + pip).", flags=("--installer",),
                   default="uv", choices=("uv", "pip"), commands=("run", "lock")),
    )

    # The section's reader and schema are imported when a project has the section: every
    # command line loads this kind for its options (the start-up budget, docs/benchmarks.md).
    def section_schema(self) -> dict[str, Any]:
        from runner.resources import load_schema

        return load_schema("mlproject.python_env")

    def read_section(self, document: YamlDocument, root: Path) -> tuple[EnvironmentSection | None, list[Problem]]:
        from runner.environments.python_section import check_python_env

        return read_file_section(document, root, "python_env", check_python_env)

    def conventional_section(self, root: Path) -> tuple[EnvironmentSection | None, list[Problem]] | None:
        path = root / CONVENTIONAL_FILE
        if not path.is_file():
            return None
        from runner.environments.python_section import check_python_env

        return check_python_env(path, root)

    def inspect_file(self, path: Path) -> list[Problem] | None:
        from runner.environments.python_section import check_python_env

        name = path.name.lower()
        if name.startswith("python_env") and name.endswith((".yaml", ".yml")):
            return check_python_env(path, path.parent)[1]
        return None

    def check_project(self, project: Project) -> None:
        """Any project that does not need docker: python_env, conda_env (converted) or none."""

    def create(self, project: Project, settings: BuildSettings) -> Environment:
        from runner.environments.virtualenv import PythonOptions, VirtualEnvironment

        options = PythonOptions(installer=settings.values["installer"], frozen=settings.frozen,
                                lock_file=settings.lock_file, verbose=settings.verbose)
        return VirtualEnvironment(project, options)

    def lock_packages(self, lock: bytes) -> dict[str, str]:
        packages = {}
        for line in lock.decode("utf-8", "replace").splitlines():
            match = _REQUIREMENT.match(line)
            if match and not line.lstrip().startswith("#"):
                packages[match.group(1).lower().replace("_", "-")] = match.group(3)
        return packages

