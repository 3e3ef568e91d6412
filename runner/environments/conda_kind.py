"""The conda kind (`--env-manager conda`): conda_env projects, solved and installed with rattler.

It reads the MLproject's `conda_env` (a conda environment file), falls back to a conda.yaml in
the project folder, and also runs python_env projects (converted as MLflow does). Building is
`runner.environments.conda`'s job, imported only when needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.environments.base import Environment
from runner.environments.kind import BuildSettings, EnvironmentKind, KindOption, read_file_section
from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.problems import Problem
    from runner.project import EnvironmentSection, Project
    from runner.yamldoc import YamlDocument

CONVENTIONAL_FILE = "conda.yaml"


class CondaKind(EnvironmentKind):
    name = "conda"
    section = "conda_env"
    lock_name = "conda-lock.yml"
    options = (
        KindOption("conda_channel_alias", "Mirror URL or folder for conda channel names (conda-forge, defaults, ...).",
                   flags=("--conda-channel-alias",), envvar="PROJ_CONDA_CHANNEL_ALIAS", reproduced=False,
                   commands=("run", "rerun", "lock")),
    )

    # The section's reader and schema are imported when a project has the section: every
    # command line loads this kind for its options (the start-up budget, docs/benchmarks.md).
    def section_schema(self) -> dict[str, Any]:
        from runner.resources import load_schema

        return load_schema("mlproject.conda_env")

    def read_section(self, document: YamlDocument, root: Path) -> tuple[EnvironmentSection | None, list[Problem]]:
        from runner.environments.conda_section import check_conda_env

        return read_file_section(document, root, "conda_env", check_conda_env)

    def conventional_section(self, root: Path) -> tuple[EnvironmentSection | None, list[Problem]] | None:
        path = root / CONVENTIONAL_FILE
        if not path.is_file():
            return None
        from runner.environments.conda_section import check_conda_env

        return check_conda_env(path, root)

    def inspect_file(self, path: Path) -> list[Problem] | None:
        from runner.environments.conda_section import check_conda_env

        name = path.name.lower()
        if name.startswith(("conda", "environment")) and name.endswith((".yaml", ".yml")):
            return check_conda_env(path, path.parent)[1]
        return None

    def check_project(self, project: Project) -> None:
        if project.environment is None or project.environment.section not in ("conda_env", "python_env"):
            raise UsageError("--env-manager conda needs a project with a conda_env (conda.yaml) "
                             "or a python_env file")

    def create(self, project: Project, settings: BuildSettings) -> Environment:
        from runner.environments.conda import CondaEnvironment
        from runner.environments.condaspec import CondaOptions

        options = CondaOptions(conda_channel_alias=settings.values["conda_channel_alias"], frozen=settings.frozen,
                               lock_file=settings.lock_file, verbose=settings.verbose)
        return CondaEnvironment(project, options)

    def lock_packages(self, lock: bytes) -> dict[str, str]:
        """conda-lock.yml: each package by name (`pip:` for pip packages, the platform when several)."""
        import yaml

        try:
            data = yaml.safe_load(lock.decode("utf-8", "replace")) or {}
        except yaml.YAMLError:
            return {}
        entries = [p for p in data.get("package", []) if isinstance(p, dict)] if isinstance(data, dict) else []
        platforms = {p.get("platform") for p in entries}
        packages = {}
        for entry in entries:
            label = entry.get("name", "?")
            if len(platforms) > 1:
                label = f"{label} ({entry.get('platform')})"
            if entry.get("manager") == "pip":
                label = f"pip:{label}"
            packages[label] = str(entry.get("version"))
        return packages
