"""`--env-manager local`: run in whatever environment proj itself was started in."""

from __future__ import annotations

import shutil

from runner.environments.base import Environment, PreparedEnvironment, Progress


class LocalEnvironment(Environment):
    name = "local"

    def prepare(self, progress: Progress) -> PreparedEnvironment:
        return PreparedEnvironment(kind=self.name, details={"python_on_path": shutil.which("python")})
