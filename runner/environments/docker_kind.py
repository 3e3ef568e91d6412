"""The docker kind: docker_env projects run in a container, on an image built once per content.

A project that declares docker_env runs only here, and this kind runs only such projects.
Building and running is `runner.environments.docker`'s job (the docker SDK is imported there,
and only when needed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from runner.environments.base import Environment
from runner.environments.kind import BuildSettings, EnvironmentKind, KindOption

if TYPE_CHECKING:
    from runner.problems import Problem
    from runner.project import EnvironmentSection, Project
    from runner.yamldoc import YamlDocument


class DockerKind(EnvironmentKind):
    name = "docker"
    section = "docker_env"
    exclusive = True
    lock_name = "docker-image.json"
    invocation_kind = "container"
    options = (
        KindOption("build_image", "Docker: build a project image on the base image, or mount the project.",
                   flags=("--build-image/--no-build-image",), default=True, form="flag"),
        KindOption("pull", "Docker: pull a missing base image.", flags=("--pull",), default=False, form="flag",
                   reproduced=False, commands=("run", "rerun")),
        KindOption("docker_args", "Docker: extra `docker run` option NAME[=VALUE] (repeatable).",
                   flags=("-A", "--docker-args"), default=(), form="list"),
    )

    # The section's reader, the -A parser and the schema are imported when a project uses docker:
    # every command line loads this kind for its options (the start-up budget, docs/benchmarks.md).
    def section_schema(self) -> dict[str, Any]:
        from runner.resources import load_schema

        return load_schema("mlproject.docker_env")

    def read_section(self, document: YamlDocument, root: Path) -> tuple[EnvironmentSection | None, list[Problem]]:
        from runner.environments.docker_section import read_docker_env

        return read_docker_env(document, root)

    def create(self, project: Project, settings: BuildSettings) -> Environment:
        from runner.environments.docker import DockerEnvironment
        from runner.environments.docker_options import DockerOptions, split_docker_arg

        values = settings.values
        options = DockerOptions(build_image=values["build_image"], pull=values["pull"],
                                docker_args=tuple(split_docker_arg(a) for a in values["docker_args"]),
                                frozen=settings.frozen, lock_file=settings.lock_file, verbose=settings.verbose)
        return DockerEnvironment(project, options)

    def recorded_settings(self, settings: BuildSettings) -> dict[str, Any]:
        from runner.environments.docker_options import recorded_docker_arg

        recorded = super().recorded_settings(settings)
        recorded["docker_args"] = [recorded_docker_arg(a) for a in recorded["docker_args"]]
        return recorded

    def replay_notes(self, recorded: Mapping[str, Any]) -> list[str]:
        """A recorded `-A env=NAME` had its value left out; a re-run takes NAME from its own machine."""
        from runner.environments.docker_options import split_docker_arg

        names = [split_docker_arg(a)[1] for a in recorded.get("docker_args") or ()
                 if split_docker_arg(a)[0] in ("env", "e") and split_docker_arg(a)[1]]
        return [f"-A env={name}: the value was not recorded (it may be secret); this machine's {name} was used"
                for name in names if name and "=" not in name]

    def lock_packages(self, lock: bytes) -> dict[str, str]:
        """docker-image.json, flattened: the base image's id, digests and the project image's content hash."""
        try:
            data = json.loads(lock.decode("utf-8", "replace"))
        except ValueError:
            return {}
        flat = {str(k): str(v) for k, v in _flatten(data).items()}
        # A project image rebuilt from the same base and files has a new id and build time but
        # the same content hash: the hash, not the id, says whether the same thing ran.
        return {k: v for k, v in flat.items() if k not in ("image.id", "image.tag")}


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix or "value": data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(_flatten(value, name) if isinstance(value, dict) else {name: value})
    return flat
