"""`--env-manager local`: run in whatever environment proj itself was started in."""

from __future__ import annotations

from runner.environments.base import Environment, PreparedEnvironment, Progress
from runner.environments.kind import BuildSettings, EnvironmentKind
from runner.host import program_on_path
from runner.project import Project


class LocalKind(EnvironmentKind):
    """No environment of its own: the one proj runs in. Chosen when a project declares none."""

    name = "local"

    def create(self, project: Project, settings: BuildSettings) -> Environment:
        return LocalEnvironment()


class LocalEnvironment(Environment):
    name = "local"

    def prepare(self, progress: Progress) -> PreparedEnvironment:
        return PreparedEnvironment(kind=self.name, details={"python_on_path": program_on_path("python")})
