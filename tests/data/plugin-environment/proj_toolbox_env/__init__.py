"""An environment kind plugin for proj: the command sees only the tools its MLproject lists.

    toolbox_env:
      tools: [python3, sed]
      variables: {GREETING: hello}

The environment is a folder of links to those commands (and bash, which runs the MLproject
command), put on PATH instead of the machine's own PATH. Its lock, `toolbox.lock`, records each
tool's path and SHA-256; `proj rerun` refuses tools that changed since. One setting:
`--env-config '{"isolate": false}'` puts the toolbox in front of PATH instead.

It shows the whole plugin interface of an environment kind: an MLproject section with its JSON
schema and further positioned checks, a setting, a cached build, a lock and its reading for
`proj runs diff`, and a description for `proj info`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.environments import cache
from runner.environments.base import Environment, PreparedEnvironment, Progress
from runner.environments.kind import BuildSettings, EnvironmentKind, KindOption
from runner.errors import EnvironmentSetupError, UsageError
from runner.problems import Problem
from runner.project import Project
from runner.yamldoc import YamlDocument

LOCK_NAME = "toolbox.lock"
ALWAYS = ("bash",)  # proj runs the MLproject command with bash

SCHEMA: dict[str, Any] = {
    "description": "The commands a run may use: only these are on its PATH (the toolbox environment kind).",
    "type": "object",
    "properties": {
        "tools": {
            "description": "Command names, each found on this machine's PATH.",
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/$defs/tool"},
        },
        "variables": {
            "description": "Variables set for the command.",
            "type": "object",
            "additionalProperties": {"description": "The variable's value.", "type": "string"},
        },
    },
    "required": ["tools"],
    "additionalProperties": False,
    "$defs": {
        "tool": {"description": "A command name (not a path).", "type": "string", "minLength": 1},
    },
}


@dataclass(frozen=True)
class ToolboxEnv:
    """The toolbox_env section of an MLproject."""

    tools: tuple[str, ...]
    variables: tuple[tuple[str, str], ...] = ()

    section = "toolbox_env"

    def summary(self) -> str:
        return f"toolbox_env ({len(self.tools)} tools: {', '.join(self.tools)})"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.section, "tools": list(self.tools), "variables": dict(self.variables)}


class ToolboxKind(EnvironmentKind):
    name = "toolbox"
    section = "toolbox_env"
    exclusive = True  # a toolbox_env project runs only in a toolbox
    lock_name = LOCK_NAME
    options = (KindOption("isolate", "Only the toolbox on PATH (false: the toolbox first, then PATH).",
                          default=True, form="flag"),)

    def section_schema(self) -> dict[str, Any]:
        return SCHEMA

    def read_section(self, document: YamlDocument, root: Path) -> tuple[ToolboxEnv, list[Problem]]:
        raw = document.data[self.section]
        problems = []
        for index, tool in enumerate(raw["tools"]):
            where = (self.section, "tools", index)
            if "/" in tool:
                problems.append(document.problem(where, f"toolbox_env.tools[{index}]: {tool!r} is a path; "
                                                        "give a command name"))
            elif shutil.which(tool) is None:
                problems.append(document.problem(where, f"toolbox_env.tools[{index}]: {tool!r} is not on this "
                                                        "machine's PATH"))
        variables = tuple((str(k), str(v)) for k, v in (raw.get("variables") or {}).items())
        return ToolboxEnv(tuple(raw["tools"]), variables), problems

    def create(self, project: Project, settings: BuildSettings) -> Environment:
        return ToolboxEnvironment(project, settings)

    def lock_packages(self, lock: bytes) -> dict[str, str]:
        return {tool: digest for tool, digest, _path in _lock_lines(lock.decode())}


class ToolboxEnvironment(Environment):
    name = "toolbox"

    def __init__(self, project: Project, settings: BuildSettings) -> None:
        if not isinstance(project.environment, ToolboxEnv):
            raise UsageError("--env-manager toolbox needs a project with toolbox_env")
        self.spec = project.environment
        self.settings = settings

    def prepare(self, progress: Progress) -> PreparedEnvironment:
        tools = {tool: _resolve(tool) for tool in dict.fromkeys((*self.spec.tools, *ALWAYS))}
        digests = {tool: _sha256(path) for tool, path in tools.items()}
        if self.settings.lock_file is not None:
            _check_against_lock(Path(self.settings.lock_file), digests)
        lock = "".join(f"{tool} sha256:{digests[tool]} {path}\n" for tool, path in tools.items())
        key = cache.content_key(self.name, [("lock", lock)])

        def build(staging: Path, final: Path) -> dict[str, Any]:
            (staging / "bin").mkdir(parents=True)
            for tool, path in tools.items():
                (staging / "bin" / tool).symlink_to(path)
            (staging / LOCK_NAME).write_text(lock)
            return {}

        built = cache.ensure(key, build, metadata={"kind": self.name, "tools": list(tools)}, progress=progress)
        folder = str(built.path / "bin")
        isolate = self.settings.values["isolate"]
        return PreparedEnvironment(
            kind=self.name, key=key, lock=lock.encode(), lock_name=LOCK_NAME,
            details={"tools": list(tools), "isolate": isolate, "path": folder},
            variables={**dict(self.spec.variables), **({"PATH": folder} if isolate else {})},
            path_prepend=() if isolate else (folder,),
        )


def _resolve(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise EnvironmentSetupError(f"toolbox_env: {tool!r} is not on this machine's PATH")
    return os.path.realpath(found)


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _lock_lines(text: str) -> list[tuple[str, str, str]]:
    return [tuple(line.split(" ", 2)) for line in text.splitlines() if line.count(" ") >= 2]  # type: ignore[misc]


def _check_against_lock(lock: Path, digests: dict[str, str]) -> None:
    """A re-run: every tool must be exactly the one the recorded run used."""
    for tool, digest, path in _lock_lines(lock.read_text()):
        if digests.get(tool) != digest.removeprefix("sha256:"):
            raise EnvironmentSetupError(f"toolbox_env: {tool} is not the one the lock records ({path}, {digest})",
                                        hint="install that exact version, or re-run with --allow-drift")
