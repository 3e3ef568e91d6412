"""`docker_env`: the image, volumes and variables an MLproject gives its container, as a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.project import inside_folder

if TYPE_CHECKING:
    from runner.problems import Problem
    from runner.yamldoc import YamlDocument


@dataclass(frozen=True)
class DockerVariable:
    name: str
    value: str | None  # None: copy the variable from the host


@dataclass(frozen=True)
class DockerEnv:
    image: str
    volumes: tuple[str, ...] = ()
    environment: tuple[DockerVariable, ...] = ()
    dockerfile: str | None = None  # proj extension: build `image` from this file in the project

    section = "docker_env"

    def summary(self) -> str:
        return f"docker_env (image {self.image})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.section,
            "image": self.image,
            "volumes": list(self.volumes),
            "environment": [[v.name, v.value] if v.value is not None else v.name for v in self.environment],
        }


def read_docker_env(document: YamlDocument, root: Path) -> tuple[DockerEnv, list[Problem]]:
    """The docker_env section (already checked against its schema) and the problems of its Dockerfile."""
    raw = document.data["docker_env"]
    variables = []
    for item in raw.get("environment") or ():
        if isinstance(item, str):
            variables.append(DockerVariable(item, None))
        else:
            variables.append(DockerVariable(item[0], str(item[1])))  # str() as MLflow does
    env = DockerEnv(raw["image"], tuple(raw.get("volumes") or ()), tuple(variables), raw.get("dockerfile"))
    return env, _check_dockerfile(document, root)


def _check_dockerfile(document: YamlDocument, root: Path) -> list[Problem]:
    """docker_env.dockerfile must name a file inside the project (it is sent as build context)."""
    name = document.data["docker_env"].get("dockerfile")
    if name is None:
        return []
    if not inside_folder(root, name):
        return [document.problem(("docker_env", "dockerfile"),
                                 f"docker_env.dockerfile: {name!r} is outside the project folder")]
    if not (root / name).is_file():
        return [document.problem(("docker_env", "dockerfile"),
                                 f"docker_env.dockerfile: file {name!r} not found in the project folder")]
    return []
